package net.mailrelay.bounce.dsn;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.parser.AbstractContentHandler;
import org.apache.james.mime4j.parser.MimeStreamParser;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.util.ByteSequence;

/**
 * The header block of the original message, for the text/rfc822-headers part (RFC 6522 section 4) or
 * message/global-headers (RFC 6533 section 6.4).
 * mime4j finds the fields; each is copied byte for byte (folding and 8-bit text kept), with line
 * endings made CRLF. Lines that are not fields are dropped, so the part always parses.
 */
final class OriginalHeaders {

    // Permissive: a header line longer than mime4j's default limits must not cost the sender the report.
    private static final MimeConfig CONFIG = MimeConfig.custom()
            .setMaxHeaderCount(-1)
            .setMaxHeaderLen(-1)
            .setMaxLineLen(-1)
            .build();

    private OriginalHeaders() {
    }

    /** Whole fields, in order, until the next would pass {@code limit} bytes (Postfix's bounce_size_limit). */
    static byte[] extract(byte[] message, int offset, int length, int limit) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MimeStreamParser parser = new MimeStreamParser(CONFIG);
        parser.setContentHandler(new AbstractContentHandler() {
            @Override
            public void field(Field field) {
                byte[] raw = crlf(field.getSafeRaw());
                if (out.size() + raw.length > limit) {
                    parser.stop();
                } else {
                    out.writeBytes(raw);
                }
            }

            @Override
            public void endHeader() {
                parser.stop();
            }
        });
        try {
            parser.parse(new ByteArrayInputStream(message, offset, length));
        } catch (MimeException e) {
            // Only strict parsing throws; what was read so far is still worth returning.
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * The raw field with a CRLF after it. mime4j ends lines at LF, so an LF inside a field always
     * precedes a continuation line and becomes CRLF; a bare CR would start a line that is no field,
     * so it becomes a space.
     */
    private static byte[] crlf(ByteSequence raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length() + 2);
        for (int i = 0; i < raw.length(); i++) {
            byte b = raw.byteAt(i);
            boolean crlf = b == '\r' && i + 1 < raw.length() && raw.byteAt(i + 1) == '\n';
            if (crlf || b == '\n') {
                out.write('\r');
                out.write('\n');
                i += crlf ? 1 : 0;
            } else {
                out.write(b == '\r' ? ' ' : b);
            }
        }
        out.write('\r');
        out.write('\n');
        return out.toByteArray();
    }
}
