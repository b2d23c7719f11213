package net.mailrelay.bounce.dsn;

import java.io.ByteArrayOutputStream;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Envelope;

/**
 * The third part of a notice: what it carries of the original message (RFC 6522 section 3).
 *
 * <p>RFC 3461 section 4.3: RET asks for the whole message or its headers in a failure notice. Without
 * RET the choice is ours; like Postfix we return the whole message, as long as it fits within the size
 * limit (Postfix's bounce_size_limit), else its headers. Delay warnings and success reports always
 * return headers: the sender still has, or no longer needs, the message. A BINARYMIME original is
 * returned as headers too: its body could not travel in an 8BITMIME notice.
 *
 * @param description the Content-Description, in Postfix's words
 * @param contentType message/rfc822 or text/rfc822-headers; message/global or message/global-headers
 *     in an RFC 6533 report
 * @param content the part's body, CRLF line endings
 * @param whole whether the whole message is returned
 */
record ReturnedOriginal(String description, String contentType, byte[] content, boolean whole) {

    static ReturnedOriginal choose(Dsn.Kind kind, Envelope original, byte[] message, int offset, int length,
            byte[] headers, int sizeLimit, boolean global) {
        String what = kind == Dsn.Kind.SUCCESS ? "Delivered Message" : "Undelivered Message";
        boolean whole = kind == Dsn.Kind.NON_DELIVERY
                && original.dsnReturn() != DsnReturn.HDRS
                && original.body() != BodyType.BINARY_MIME
                && length <= sizeLimit;
        if (whole) {
            return new ReturnedOriginal(what, global ? "message/global" : "message/rfc822",
                    crlf(message, offset, length), true);
        }
        return new ReturnedOriginal(what + " Headers", global ? "message/global-headers" : "text/rfc822-headers",
                headers, false);
    }

    /**
     * The message with every line ending CRLF: records hold CRLF already, but a bare CR or LF from a
     * sloppy client must not reach the sender's server in the notice (RFC 5321 section 2.3.8).
     */
    private static byte[] crlf(byte[] message, int offset, int length) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(length + 2);
        int end = offset + length;
        for (int i = offset; i < end; i++) {
            byte b = message[i];
            if (b == '\r' || b == '\n') {
                out.write('\r');
                out.write('\n');
                i += b == '\r' && i + 1 < end && message[i + 1] == '\n' ? 1 : 0;
            } else {
                out.write(b);
            }
        }
        return out.toByteArray();
    }
}
