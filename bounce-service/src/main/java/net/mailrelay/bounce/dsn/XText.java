package net.mailrelay.bounce.dsn;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * RFC 3461 section 4 xtext: ENVID and ORCPT arrive with "+XX" hex escapes, and RFC 3464 sections
 * 2.2.1 and 2.3.1 want them decoded in the report. A malformed escape is kept as written rather than
 * guessed at.
 */
final class XText {

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
