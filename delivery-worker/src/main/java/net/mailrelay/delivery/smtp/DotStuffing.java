package net.mailrelay.delivery.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Prepares stored message bytes for the DATA phase (RFC 5321 section 4.5.2): a "." is added before every
 * line that begins with one, and a final CRLF is added if the message lacks it, so that the end-of-data
 * line Netty's encoder appends stands on a line of its own. The message bytes are wrapped, not copied.
 */
final class DotStuffing {

    private static final byte[] DOT = {'.'};
    private static final byte[] CRLF = {'\r', '\n'};

    private DotStuffing() {
    }

    static ByteBuf stuff(byte[] message, int offset, int length) {
        CompositeByteBuf out = Unpooled.compositeBuffer(Integer.MAX_VALUE);
        int end = offset + length;
        int segment = offset;
        boolean lineStart = true;
        for (int i = offset; i < end; i++) {
            byte b = message[i];
            if (lineStart && b == '.') {
                add(out, message, segment, i);
                out.addComponent(true, Unpooled.wrappedBuffer(DOT));
                segment = i;
            }
            lineStart = b == '\n';
        }
        add(out, message, segment, end);
        if (length < 2 || message[end - 2] != '\r' || message[end - 1] != '\n') {
            out.addComponent(true, Unpooled.wrappedBuffer(CRLF));
        }
        return out;
    }

    private static void add(CompositeByteBuf out, byte[] message, int from, int to) {
        if (to > from) {
            out.addComponent(true, Unpooled.wrappedBuffer(message, from, to - from));
        }
    }
}
