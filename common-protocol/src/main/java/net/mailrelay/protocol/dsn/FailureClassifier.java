package net.mailrelay.protocol.dsn;

import java.util.Locale;
import java.util.regex.Pattern;
import net.mailrelay.protocol.smtp.EnhancedStatus;

/**
 * Classifies a failure from its enhanced status (RFC 3463) first, and from the words of the reply
 * where the status says less than the text: many servers answer "550 5.0.0" or no enhanced code at all
 * for an unknown user or a spam block.
 */
public final class FailureClassifier {

    private static final Pattern UNKNOWN_USER = Pattern.compile(
            "user unknown|unknown user|no such user|no such (mailbox|recipient|address)|does not exist|doesn'?t exist"
                    + "|invalid (recipient|mailbox|address)|mailbox (unavailable|not found)"
                    + "|address not found|not our customer|unrouteable address|account (is )?(disabled|inactive)");
    private static final Pattern FULL = Pattern.compile("quota|mailbox (is )?full|over ?quota|insufficient (storage|space)");
    private static final Pattern POLICY = Pattern.compile(
            "spam|block|blacklist|denylist|reputation|policy|dmarc|spf|dkim|rbl|spamhaus|not allowed|rejected due to"
                    + "|content (rejected|refused)|virus|malware|access denied|relay");
    private static final Pattern TOO_BIG = Pattern.compile("too (big|large)|size (limit|exceeds)|exceeds (size|the size)");
    private static final Pattern LOOP = Pattern.compile("loop|too many hops");

    private FailureClassifier() {
    }

    /**
     * @param status the enhanced status, e.g. "5.1.1"
     * @param diagnostic the remote reply or local explanation, may be null
     */
    public static FailureClass classify(String status, String diagnostic) {
        EnhancedStatus s = EnhancedStatus.parse(status);
        int subject = s.detail().subject();
        int detail = s.detail().detail();
        String text = diagnostic == null ? "" : diagnostic.toLowerCase(Locale.ROOT);
        if (subject == 4 && detail == 7) {
            return FailureClass.EXPIRED;
        }
        if (subject == 7 && (detail == 4 || detail == 5 || detail == 10) || text.contains("tls") && subject != 1) {
            return FailureClass.TLS_FAILURE;
        }
        if (subject == 4 && (detail == 3 || detail == 4) || subject == 1 && (detail == 2 || detail == 10)
                || text.contains("name service error") || text.contains("host or domain name not found")) {
            return FailureClass.DNS_FAILURE;
        }
        if (subject == 4 && detail == 6 || LOOP.matcher(text).find()) {
            return FailureClass.ROUTING_LOOP;
        }
        if (subject == 3 && detail == 4 || subject == 2 && detail == 3 || TOO_BIG.matcher(text).find()) {
            return FailureClass.MESSAGE_TOO_BIG;
        }
        if (subject == 2 && detail == 2 || FULL.matcher(text).find()) {
            return FailureClass.MAILBOX_FULL;
        }
        if (subject == 7) {
            // A security or policy status is trusted over the words: "Recipient address rejected: Access denied".
            return FailureClass.POLICY_BLOCK;
        }
        if (subject == 1 && (detail == 1 || detail == 3 || detail == 6) || UNKNOWN_USER.matcher(text).find()) {
            return FailureClass.INVALID_MAILBOX;
        }
        if (POLICY.matcher(text).find()) {
            return FailureClass.POLICY_BLOCK;
        }
        return FailureClass.OTHER;
    }
}
