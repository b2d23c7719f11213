package net.mailrelay.bounce.dsn;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RFC 3461 section 4 xtext: ENVID and ORCPT arrive with "+XX" hex escapes, and RFC 3464 sections
 * 2.2.1 and 2.3.1 want them decoded in the report. A malformed escape is kept as written rather than
 * guessed at.
 */
final class XText {

    // RFC 6533 section 3: a utf-8 address in xtext writes each non-ASCII character as \x{HEX}.
    private static final Pattern UNICODE_ESCAPE = Pattern.compile("\\\\x\\{([0-9A-Fa-f]{1,6})\\}");

    private XText() {
    }

    static String decode(String xtext) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(xtext.length());
        byte[] in = xtext.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < in.length; i++) {
            int hi = i + 2 < in.length ? hex(in[i + 1]) : -1;
            int lo = i + 2 < in.length ? hex(in[i + 2]) : -1;
            if (in[i] == '+' && hi >= 0 && lo >= 0) {
                out.write(hi * 16 + lo);
                i += 2;
            } else {
                out.write(in[i]);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Undoes RFC 6533 "\x{HEX}" escapes (after {@link #decode}); an escape that names no character stays. */
    static String decodeUnicode(String text) {
        Matcher m = UNICODE_ESCAPE.matcher(text);
        StringBuilder out = new StringBuilder(text.length());
        while (m.find()) {
            int c = Integer.parseInt(m.group(1), 16);
            boolean character = Character.isValidCodePoint(c) && (c < 0xD800 || c > 0xDFFF);
            m.appendReplacement(out, Matcher.quoteReplacement(character ? Character.toString(c) : m.group()));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static int hex(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        }
        // RFC 3461 asks for upper case; lower case costs nothing to accept.
        if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        }
        return -1;
    }
}
