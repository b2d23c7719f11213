package net.mailrelay.protocol.smtp;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The argument of MAIL FROM: or RCPT TO:, split into the path and its ESMTP parameters
 * (RFC 5321 section 4.1.2 Mail-parameters and Rcpt-parameters).
 *
 * @param mailbox the mailbox, or null for the null reverse path {@code <>}
 * @param parameters keys upper-cased, in the order given; a keyword without a value maps to ""
 * @param bracketed the path was enclosed in angle brackets, as RFC 5321 section 4.1.2 requires; a server
 *     with Postfix's {@code strict_rfc821_envelopes} refuses it otherwise
 */
public record PathArgument(Mailbox mailbox, Map<String, String> parameters, boolean bracketed) {

    public PathArgument {
        parameters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /**
     * Parses {@code <path> [SP param[=value]]...}. Like Postfix with {@code strict_rfc821_envelopes = no},
     * it tolerates spaces before the path and a path without angle brackets; {@link #bracketed()} tells
     * which, so that the session can refuse the latter where it is strict.
     */
    public static PathArgument parse(String argument, boolean allowNullPath) {
        String a = argument.stripLeading();
        if (a.isEmpty()) {
            throw new AddressSyntaxException("missing address");
        }
        Mailbox[] box = new Mailbox[1];
        int end;
        if (a.charAt(0) == '<') {
            AddressParser p = new AddressParser(a);
            end = p.path(allowNullPath, box);
        } else {
            int space = a.indexOf(' ');
            end = space < 0 ? a.length() : space;
            box[0] = Mailbox.parse(a.substring(0, end));
        }
        Map<String, String> params = new LinkedHashMap<>();
        String rest = a.substring(end);
        if (!rest.isEmpty() && rest.charAt(0) != ' ') {
            throw new AddressSyntaxException("unexpected text after address");
        }
        for (String token : rest.trim().split(" +")) {
            if (token.isEmpty()) {
                continue;
            }
            int eq = token.indexOf('=');
            String key = (eq < 0 ? token : token.substring(0, eq)).toUpperCase(Locale.ROOT);
            String value = eq < 0 ? "" : token.substring(eq + 1);
            if (key.isEmpty() || !key.chars().allMatch(c -> c < 0x80 && (Character.isLetterOrDigit(c) || c == '-'))) {
                throw new AddressSyntaxException("bad parameter keyword '" + token + "'");
            }
            if (params.put(key, value) != null) {
                throw new AddressSyntaxException("parameter " + key + " given twice");
            }
        }
        return new PathArgument(box[0], params, a.charAt(0) == '<');
    }
}
