package net.mailrelay.protocol.dkim;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The "relaxed" canonicalizations of RFC 6376 section 3.4, over the exact bytes the relay sends: a
 * header field (3.4.2) and a body (3.4.4). Signing the bytes, not a re-serialised MIME tree, is what
 * lets a signature made at the edge hold for every worker that sends the record.
 */
final class Canonical {

    private Canonical() {
    }

    /**
     * One header field, as read from the message (name, colon, value, folds and all, without its final
     * CRLF): the name in lower case, the value unfolded, each run of spaces and tabs one space, none at
     * either end of the value nor around the colon. No CRLF is added.
     */
    static String header(String field) {
        int colon = field.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("not a header field: " + field);
        }
        String name = field.substring(0, colon).strip().toLowerCase(Locale.ROOT);
        String value = field.substring(colon + 1).replace("\r\n", "").replaceAll("[ \t]+", " ").strip();
        return name + ":" + value;
    }

    /**
     * The body: each run of spaces and tabs within a line one space, none at a line's end, no empty lines
     * at the end of the body, and a body that is not empty ends with one CRLF (an empty one stays empty).
     */
    static byte[] body(byte[] message, int start) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(16, message.length - start));
        int pendingEmptyLines = 0;
        int i = start;
        while (i < message.length) {
            int end = i;
            while (end < message.length && !(message[end] == '\r' && end + 1 < message.length && message[end + 1] == '\n')) {
                end++;
            }
            boolean terminated = end < message.length;
            StringBuilder line = new StringBuilder();
            boolean space = false;
            for (int k = i; k < end; k++) {
                byte b = message[k];
                if (b == ' ' || b == '\t') {
                    space = true;
                } else {
                    if (space) {
                        line.append(' ');
                        space = false;
                    }
                    line.append((char) (b & 0xff));
                }
            }
            if (line.length() == 0) {
                if (terminated || end > i) {
                    pendingEmptyLines++;
                }
            } else {
                for (; pendingEmptyLines > 0; pendingEmptyLines--) {
                    out.writeBytes(CRLF);
                }
                out.writeBytes(line.toString().getBytes(StandardCharsets.ISO_8859_1));
                out.writeBytes(CRLF);
            }
            i = terminated ? end + 2 : end;
        }
        return out.toByteArray();
    }

    private static final byte[] CRLF = {'\r', '\n'};
}
