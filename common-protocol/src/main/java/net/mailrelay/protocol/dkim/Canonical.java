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
        String name = trimWsp(field.substring(0, colon)).toLowerCase(Locale.ROOT);
        String value = trimWsp(field.substring(colon + 1).replace("\r\n", "").replaceAll("[ \t]+", " "));
        return name + ":" + value;
    }

    /**
     * Without the spaces and tabs at either end, and nothing else: RFC 6376 3.4.2 removes only WSP, where
     * {@link String#strip} also takes VT, FF and 0x1C-0x1F, which a verifier keeps and hashes.
     */
    static String trimWsp(String s) {
        int from = 0;
        int to = s.length();
        while (from < to && (s.charAt(from) == ' ' || s.charAt(from) == '\t')) {
            from++;
        }
        while (to > from && (s.charAt(to - 1) == ' ' || s.charAt(to - 1) == '\t')) {
            to--;
        }
        return s.substring(from, to);
    }

    /**
     * Where the line that starts at {@code from} ends, its line break excluded: at a CRLF, or at a bare LF,
     * which verifiers (dkimpy) and receiving MTAs (Postfix) take for a line break too; the end of the
     * message for a last line without one.
     */
    static int lineEnd(byte[] m, int from) {
        for (int i = from; i < m.length; i++) {
            if (m[i] == '\n') {
                return i > from && m[i - 1] == '\r' ? i - 1 : i;
            }
        }
        return m.length;
    }

    /** Where the line after the one that ends at {@code end} ({@link #lineEnd}) starts. */
    static int nextLine(byte[] m, int end) {
        if (end >= m.length) {
            return m.length;
        }
        return m[end] == '\r' ? end + 2 : end + 1;
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
            int end = lineEnd(message, i);
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
            i = nextLine(message, end);
        }
        return out.toByteArray();
    }

    private static final byte[] CRLF = {'\r', '\n'};
}
