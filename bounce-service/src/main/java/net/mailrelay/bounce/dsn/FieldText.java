package net.mailrelay.bounce.dsn;

/**
 * Makes untrusted text (remote replies, addresses, ENVID) safe to put in one header or report field.
 * A remote server's reply, or a decoded "+0D+0A" in an ENVID, must never start a field of its own.
 */
final class FieldText {

    private FieldText() {
    }

    /** Each run of control characters and Unicode line breaks becomes one space; null stays null. */
    static String oneLine(String text) {
        if (text == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder(text.length());
        boolean inRun = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean lineBreakOrControl = c < 0x20 || c == 0x7f || c == 0x85 || c == 0x2028 || c == 0x2029;
            if (!lineBreakOrControl) {
                sb.append(c);
            } else if (!inRun) {
                sb.append(' ');
            }
            inRun = lineBreakOrControl;
        }
        return sb.toString().strip();
    }

    static boolean isAscii(String text) {
        return text.chars().allMatch(c -> c < 0x80);
    }

    /**
     * Each non-ASCII character becomes '?': RFC 3464 fields are US-ASCII, and only an RFC 6533 report
     * may carry UTF-8. Addresses never get here (a UTF-8 address makes the report a global one); this
     * is for free text such as a remote reply in another script.
     */
    static String ascii(String text) {
        if (isAscii(text)) {
            return text;
        }
        StringBuilder sb = new StringBuilder(text.length());
        text.codePoints().forEach(c -> sb.append(c < 0x80 ? (char) c : '?'));
        return sb.toString();
    }
}
