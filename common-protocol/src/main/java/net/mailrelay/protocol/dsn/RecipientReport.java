package net.mailrelay.protocol.dsn;

import java.util.Objects;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.smtp.EnhancedStatus;

/**
 * The per-recipient fields of an RFC 3464 delivery status notification (section 2.3), as the worker
 * learns them and the bounce service reports them.
 *
 * @param recipient the envelope recipient (its ORCPT becomes Original-Recipient)
 * @param action what happened
 * @param status the enhanced status, e.g. 5.1.1
 * @param remoteMta the host that answered, or null when none did
 * @param diagnostic the remote reply as given (RFC 3464 Diagnostic-Code "smtp; ..."), or a local
 *     explanation when no server answered; null when there is nothing to add
 * @param lastAttemptMillis when the last attempt was made (epoch milliseconds)
 * @param willRetryUntilMillis for a delay: when the relay will give up (RFC 3464 Will-Retry-Until); 0 otherwise
 * @param failureClass for a failure or delay: why, in plain terms; null for a success
 */
public record RecipientReport(
        Recipient recipient,
        Action action,
        String status,
        String remoteMta,
        String diagnostic,
        long lastAttemptMillis,
        long willRetryUntilMillis,
        FailureClass failureClass) {

    public RecipientReport {
        Objects.requireNonNull(recipient, "recipient");
        Objects.requireNonNull(action, "action");
        EnhancedStatus.parse(Objects.requireNonNull(status, "status"));
    }

    /** A report without a retry deadline, classified when it is a failure. */
    public RecipientReport(Recipient recipient, Action action, String status, String remoteMta, String diagnostic,
            long lastAttemptMillis) {
        this(recipient, action, status, remoteMta, diagnostic, lastAttemptMillis, 0,
                action == Action.FAILED ? FailureClassifier.classify(status, diagnostic) : null);
    }

    /** A failure, classified from its status and diagnostic. */
    public static RecipientReport failed(Recipient r, String status, String remoteMta, String diagnostic, long at) {
        return new RecipientReport(r, Action.FAILED, status, remoteMta, diagnostic, at, 0,
                FailureClassifier.classify(status, diagnostic));
    }

    public EnhancedStatus enhancedStatus() {
        return EnhancedStatus.parse(status);
    }
}
