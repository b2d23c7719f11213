package net.mailrelay.delivery.smtp;

import java.util.List;
import java.util.Locale;

/**
 * What a server offered in its EHLO reply (RFC 5321 section 4.1.1.1).
 *
 * @param sizeLimit the SIZE limit (RFC 1870): -1 when SIZE was not offered, 0 when offered without a limit
 */
record Extensions(boolean pipelining, boolean eightBitMime, boolean smtpUtf8, long sizeLimit, boolean startTls,
        boolean authPlain, boolean dsn) {

    /** After HELO, or before EHLO was answered: nothing offered. */
    static final Extensions NONE = new Extensions(false, false, false, -1, false, false, false);

    /** Parses the lines after the first (the first line is the server's name). */
    static Extensions parse(List<String> lines) {
        boolean pipelining = false;
        boolean eightBit = false;
        boolean utf8 = false;
        long size = -1;
        boolean startTls = false;
        boolean plain = false;
        boolean dsn = false;
        for (int i = 1; i < lines.size(); i++) {
            String[] words = lines.get(i).trim().split("\\s+");
            switch (words[0].toUpperCase(Locale.ROOT)) {
                case "PIPELINING" -> pipelining = true;
                case "8BITMIME" -> eightBit = true;
                case "SMTPUTF8" -> utf8 = true;
                case "SIZE" -> size = words.length > 1 ? parseLimit(words[1]) : 0;
                case "STARTTLS" -> startTls = true;
                case "DSN" -> dsn = true;
                case "AUTH" -> {
                    for (int w = 1; w < words.length; w++) {
                        plain |= words[w].equalsIgnoreCase("PLAIN");
                    }
                }
                default -> {
                    // not used by this client
                }
            }
        }
        return new Extensions(pipelining, eightBit, utf8, size, startTls, plain, dsn);
    }

    private static long parseLimit(String s) {
        try {
            return Math.max(0, Long.parseLong(s));
        } catch (NumberFormatException e) {
            return 0; // an unreadable limit is one we cannot check against
        }
    }
}
