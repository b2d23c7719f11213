package net.mailrelay.protocol.smtp;

import java.util.Locale;

/**
 * A command line split into its verb and argument (RFC 5321 section 4.1.1). The verb is upper-cased; an
 * unknown verb is kept as text so the server can answer 500 for it.
 */
public record CommandLine(Verb verb, String verbText, String argument) {

    public enum Verb {
        HELO, EHLO, MAIL, RCPT, DATA, BDAT, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS, AUTH, UNKNOWN
    }

    public static CommandLine parse(String line) {
        String trimmed = line.stripTrailing();
        int space = trimmed.indexOf(' ');
        String verbText = (space < 0 ? trimmed : trimmed.substring(0, space)).toUpperCase(Locale.ROOT);
        String argument = space < 0 ? "" : trimmed.substring(space + 1);
        Verb verb;
        try {
            verb = Verb.valueOf(verbText);
        } catch (IllegalArgumentException e) {
            verb = Verb.UNKNOWN;
        }
        return new CommandLine(verb, verbText, argument);
    }

    /**
     * For MAIL and RCPT: the text after {@code FROM:} or {@code TO:} (case-insensitive), or null when the
     * keyword is missing.
     */
    public String afterKeyword(String keyword) {
        if (argument.length() < keyword.length()
                || !argument.regionMatches(true, 0, keyword, 0, keyword.length())) {
            return null;
        }
        return argument.substring(keyword.length());
    }
}
