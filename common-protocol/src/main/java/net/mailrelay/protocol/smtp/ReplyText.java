package net.mailrelay.protocol.smtp;

import java.nio.charset.StandardCharsets;

/**
 * The fixed budget for a peer's reply text in anything the relay keeps: a log line, a delivery event, a
 * retry record, a bounce request, a DSN's Diagnostic-Code. A remote MX may answer each of a thousand
 * RCPTs with 64 KiB; kept whole, one message's bounce request would be tens of megabytes, more than the
 * broker takes, and its partition would wait on it for ever. Postfix likewise keeps a bounded reply text.
 * 2 KiB holds every real reply seen (a multi-line 550 with a policy URL is a few hundred bytes).
 */
public final class ReplyText {

    /** The most bytes (UTF-8) of one reply that are kept. */
    public static final int BUDGET = 2048;
    /** The most bytes of an account built around a reply ("host mx[...] said: ... (in reply to ...)"). */
    public static final int ACCOUNT = BUDGET + 512;

    private ReplyText() {
    }

    /** {@code text} whole when it fits {@link #BUDGET}, else cut there with a note of how much was cut; null stays null. */
    public static String bounded(String text) {
        return bounded(text, BUDGET);
    }

    /** {@code text} whole when its UTF-8 form has at most {@code maxBytes}, else cut to fit, with a note; null stays null. */
    public static String bounded(String text, int maxBytes) {
        if (text == null || text.length() <= maxBytes / 3) {
            return text; // three bytes per char at most for the BMP, four for a surrogate pair (two chars)
        }
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= maxBytes) {
            return text;
        }
        String note = " ...(" + utf8.length + " bytes, cut)";
        int keep = Math.max(0, maxBytes - note.length());
        StringBuilder out = new StringBuilder(keep);
        int used = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (used + bytes > keep) {
                break;
            }
            out.appendCodePoint(cp);
            used += bytes;
            i += Character.charCount(cp);
        }
        return out.append(note).toString();
    }
}
