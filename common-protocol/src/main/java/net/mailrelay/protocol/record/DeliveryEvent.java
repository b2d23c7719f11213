package net.mailrelay.protocol.record;

import java.util.List;
import java.util.Objects;
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.envelope.QueueId;

/**
 * One line of the delivery log on {@code mail.events}: the outcome of one attempt for one recipient.
 *
 * @param queueId the message
 * @param recipient the recipient address
 * @param outcome what happened
 * @param attempt 1 for the first attempt
 * @param atMillis when the attempt ended
 * @param remoteHost the host name tried, or null when no host was reached
 * @param remoteAddress its IP address and port, or null
 * @param reply the reply that decided the outcome, or a local explanation
 * @param status the enhanced status, e.g. 2.0.0
 * @param durationMillis how long the attempt took
 * @param tls the TLS protocol and cipher of the connection, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384", or null
 * @param failureClass for a deferral, failure or expiry: why, in plain terms; null when delivered
 * @param dkim the DKIM signatures the edge added to the message, one "d=D s=S a=A" each; empty when none
 */
public record DeliveryEvent(
        QueueId queueId,
        String recipient,
        Outcome outcome,
        int attempt,
        long atMillis,
        String remoteHost,
        String remoteAddress,
        String reply,
        String status,
        long durationMillis,
        String tls,
        FailureClass failureClass,
        List<String> dkim) {

    public enum Outcome {
        DELIVERED, DEFERRED, FAILED, EXPIRED,
        /** Removed from the queue by the administrator, without a DSN (Postfix postsuper -d). */
        DELETED
    }

    public DeliveryEvent {
        Objects.requireNonNull(queueId, "queueId");
        Objects.requireNonNull(recipient, "recipient");
        Objects.requireNonNull(outcome, "outcome");
        dkim = dkim == null ? List.of() : List.copyOf(dkim);
    }

    /** An event of a message the edge did not sign. */
    public DeliveryEvent(QueueId queueId, String recipient, Outcome outcome, int attempt, long atMillis, String remoteHost,
            String remoteAddress, String reply, String status, long durationMillis, String tls, FailureClass failureClass) {
        this(queueId, recipient, outcome, attempt, atMillis, remoteHost, remoteAddress, reply, status, durationMillis, tls,
                failureClass, List.of());
    }
}
