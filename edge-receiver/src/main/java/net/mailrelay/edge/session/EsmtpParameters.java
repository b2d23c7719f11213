package net.mailrelay.edge.session;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.smtp.Reply;

/**
 * Checks the ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531),
 * RET, ENVID, NOTIFY and ORCPT (RFC 3461). Each method returns the parsed values or the reply that
 * refuses them.
 */
final class EsmtpParameters {

    private EsmtpParameters() {
    }

    record Mail(long size, BodyType body, boolean smtpUtf8, DsnReturn ret, String envelopeId, Reply error) {
        static Mail refused(Reply r) {
            return new Mail(0, null, false, null, null, r);
        }
    }

    record Rcpt(Set<Notify> notifyOn, String orcpt, Reply error) {
    }

    static Mail mail(Map<String, String> params) {
        long size = 0;
        BodyType body = BodyType.SEVEN_BIT;
        boolean utf8 = false;
        DsnReturn ret = null;
        String envid = null;
        for (Map.Entry<String, String> p : params.entrySet()) {
            String v = p.getValue();
            switch (p.getKey()) {
                case "SIZE" -> {
                    if (v.isEmpty() || v.length() > 18 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
                        return Mail.refused(Replies.BAD_SIZE);
                    }
                    size = Long.parseLong(v);
                }
                case "BODY" -> {
                    if (!v.equalsIgnoreCase("7BIT") && !v.equalsIgnoreCase("8BITMIME")) {
                        return Mail.refused(Replies.BAD_BODY);
                    }
                    body = BodyType.ofKeyword(v);
                }
                case "SMTPUTF8" -> {
                    if (!v.isEmpty()) {
                        return Mail.refused(Replies.unsupportedParameter("SMTPUTF8=" + v));
                    }
                    utf8 = true;
                }
                case "RET" -> {
                    String r = v.toUpperCase(Locale.ROOT);
                    if (!r.equals("FULL") && !r.equals("HDRS")) {
                        return Mail.refused(Replies.BAD_RET);
                    }
                    ret = DsnReturn.valueOf(r);
                }
                case "AUTH" -> {
                    // RFC 4954 section 5: the identity a trusted relay vouches for; we do not relay on its
                    // strength, so it is checked for syntax and otherwise ignored.
                    if (v.isEmpty() || !(v.equals("<>") || isXtext(v))) {
                        return Mail.refused(Replies.unsupportedParameter("AUTH=" + v));
                    }
                }
                case "ENVID" -> {
                    if (v.isEmpty() || v.length() > 100 || !isXtext(v)) {
                        return Mail.refused(Replies.BAD_ENVID);
                    }
                    envid = v;
                }
                default -> {
                    return Mail.refused(Replies.unsupportedParameter(p.getKey()));
                }
            }
        }
        return new Mail(size, body, utf8, ret, envid, null);
    }

    static Rcpt rcpt(Map<String, String> params) {
        Set<Notify> notify = EnumSet.noneOf(Notify.class);
        String orcpt = null;
        for (Map.Entry<String, String> p : params.entrySet()) {
            String v = p.getValue();
            switch (p.getKey()) {
                case "NOTIFY" -> {
                    for (String n : v.toUpperCase(Locale.ROOT).split(",", -1)) {
                        try {
                            notify.add(Notify.valueOf(n));
                        } catch (IllegalArgumentException e) {
                            return new Rcpt(null, null, Replies.BAD_NOTIFY);
                        }
                    }
                    if (notify.contains(Notify.NEVER) && notify.size() > 1) {
                        return new Rcpt(null, null, Replies.BAD_NOTIFY);
                    }
                }
                case "ORCPT" -> {
                    int semi = v.indexOf(';');
                    if (semi <= 0 || semi == v.length() - 1 || v.length() > 500 || !isXtext(v.substring(semi + 1))) {
                        return new Rcpt(null, null, Replies.BAD_ORCPT);
                    }
                    orcpt = v;
                }
                default -> {
                    return new Rcpt(null, null, Replies.unsupportedParameter(p.getKey()));
                }
            }
        }
        return new Rcpt(notify, orcpt, null);
    }

    /** RFC 3461 section 4: xtext is printable ASCII except '+' and '=', with "+XX" hex escapes. */
    static boolean isXtext(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '+') {
                if (i + 2 >= s.length() || !isUpperHex(s.charAt(i + 1)) || !isUpperHex(s.charAt(i + 2))) {
                    return false;
                }
                i += 2;
            } else if (c < '!' || c > '~' || c == '=') {
                return false;
            }
        }
        return true;
    }

    private static boolean isUpperHex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
    }
}
