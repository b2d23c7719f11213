package net.mailrelay.protocol.smtp;

/**
 * A recursive-descent parser for the RFC 5321 section 4.1.2 grammar of Path and Mailbox, extended by
 * RFC 6531 (UTF-8 in local parts and domains). Source routes ({@code <@a,@b:user@c>}) are accepted and
 * dropped, as RFC 5321 section 4.1.1.3 asks.
 */
final class AddressParser {

    private final String s;
    private int pos;

    AddressParser(String s) {
        this.s = s;
    }

    Mailbox mailboxOnly() {
        Mailbox m = mailbox();
        if (pos != s.length()) {
            throw error("unexpected '" + s.charAt(pos) + "' after address");
        }
        return m;
    }

    /** Path = "<" [ A-d-l ":" ] Mailbox ">"; returns the position after the closing bracket. */
    int path(boolean allowNull, Mailbox[] out) {
        expect('<');
        if (allowNull && peek() == '>') {
            pos++;
            out[0] = null;
            return pos;
        }
        if (peek() == '@') {
            sourceRoute();
        }
        out[0] = mailbox();
        expect('>');
        return pos;
    }

    int position() {
        return pos;
    }

    private void sourceRoute() {
        do {
            expect('@');
            domain();
        } while (accept(','));
        expect(':');
    }

    private Mailbox mailbox() {
        int start = pos;
        if (peek() == '"') {
            quotedString();
        } else {
            dotString();
        }
        String local = s.substring(start, pos);
        if (local.length() > 64 * 4) {
            throw error("local part too long");
        }
        expect('@');
        int domainStart = pos;
        if (peek() == '[') {
            addressLiteral();
        } else {
            domain();
        }
        String domain = s.substring(domainStart, pos);
        if (domain.length() > 255) {
            throw error("domain too long");
        }
        return new Mailbox(local, domain);
    }

    private void dotString() {
        atom();
        while (peek() == '.') {
            pos++;
            atom();
        }
    }

    private void atom() {
        int start = pos;
        while (pos < s.length() && isAtext(s.charAt(pos))) {
            pos++;
        }
        if (pos == start) {
            throw error(pos < s.length() ? "invalid character '" + s.charAt(pos) + "' in local part"
                    : "missing local part");
        }
    }

    private void quotedString() {
        expect('"');
        while (pos < s.length() && s.charAt(pos) != '"') {
            char c = s.charAt(pos);
            if (c == '\\') {
                pos++;
                if (pos >= s.length() || s.charAt(pos) < 32 || s.charAt(pos) == 127) {
                    throw error("bad quoted pair");
                }
            } else if (c < 32 || c == 127) {
                throw error("control character in quoted string");
            }
            pos++;
        }
        expect('"');
    }

    private void domain() {
        subDomain();
        while (peek() == '.') {
            pos++;
            subDomain();
        }
    }

    private void subDomain() {
        int start = pos;
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (Character.isLetterOrDigit(c) || c == '-' || c >= 0x80) {
                pos++;
            } else {
                break;
            }
        }
        if (pos == start) {
            throw error(pos < s.length() ? "invalid character '" + s.charAt(pos) + "' in domain" : "missing domain");
        }
        if (s.charAt(start) == '-' || s.charAt(pos - 1) == '-') {
            throw error("domain label may not begin or end with '-'");
        }
    }

    private void addressLiteral() {
        expect('[');
        int start = pos;
        while (pos < s.length() && s.charAt(pos) != ']') {
            char c = s.charAt(pos);
            if (c < 33 || c > 126 || c == '[' || c == '\\') {
                throw error("invalid address literal");
            }
            pos++;
        }
        if (pos == start) {
            throw error("empty address literal");
        }
        expect(']');
    }

    private static boolean isAtext(char c) {
        if (c >= 0x80) {
            return true; // RFC 6531 UTF8-non-ascii
        }
        return Character.isLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0;
    }

    private char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private boolean accept(char c) {
        if (peek() == c) {
            pos++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!accept(c)) {
            throw error(pos < s.length() ? "expected '" + c + "' but found '" + s.charAt(pos) + "'"
                    : "expected '" + c + "' at end of address");
        }
    }

    private AddressSyntaxException error(String what) {
        return new AddressSyntaxException(what);
    }
}
