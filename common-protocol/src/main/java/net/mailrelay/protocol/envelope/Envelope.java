package net.mailrelay.protocol.envelope;

import java.util.List;
import java.util.Objects;

/**
 * The SMTP envelope of one queued message and what the relay knows about its journey so far. It travels
 * as JSON in the Kafka record beside the message bytes (see docs/record-format.md).
 *
 * @param queueId the id assigned by the edge that accepted the message
 * @param reversePath MAIL FROM address; empty for the null reverse path {@code <>}
 * @param recipients the recipients still to be delivered (a retry record carries only those deferred)
 * @param body BODY parameter
 * @param smtpUtf8 whether MAIL FROM carried SMTPUTF8
 * @param dsnReturn RET, or null
 * @param envelopeId ENVID, or null
 * @param clientAddress the IP address of the client that handed the message to the edge
 * @param heloName the HELO/EHLO name that client gave
 * @param authenticatedAs the SASL user, or null
 * @param arrivedAtMillis when the edge accepted the message (epoch milliseconds)
 * @param attempts delivery attempts made so far
 * @param notBeforeMillis earliest time for the next attempt (0 = now)
 * @param lastDiagnostic the last temporary failure, for logs and for the expiry DSN; null if none
 * @param delayWarned whether a delay warning DSN has been asked for already (at most one per message)
 * @param dkim the DKIM signatures the edge added, one "d=D s=S a=A" each; empty when it signed none
 */
public record Envelope(
        QueueId queueId,
        String reversePath,
        List<Recipient> recipients,
        BodyType body,
        boolean smtpUtf8,
        DsnReturn dsnReturn,
        String envelopeId,
        String clientAddress,
        String heloName,
        String authenticatedAs,
        long arrivedAtMillis,
        int attempts,
        long notBeforeMillis,
        String lastDiagnostic,
        boolean delayWarned,
        List<String> dkim) {

    public Envelope {
        dkim = dkim == null ? List.of() : List.copyOf(dkim);
        Objects.requireNonNull(queueId, "queueId");
        Objects.requireNonNull(reversePath, "reversePath");
        recipients = List.copyOf(recipients);
        if (recipients.isEmpty()) {
            throw new IllegalArgumentException("envelope " + queueId + " has no recipients");
        }
        body = body == null ? BodyType.SEVEN_BIT : body;
        if (attempts < 0) {
            throw new IllegalArgumentException("attempts must be >= 0, not " + attempts);
        }
    }

    /** A message the edge did not sign. */
    public Envelope(QueueId queueId, String reversePath, List<Recipient> recipients, BodyType body, boolean smtpUtf8,
            DsnReturn dsnReturn, String envelopeId, String clientAddress, String heloName, String authenticatedAs,
            long arrivedAtMillis, int attempts, long notBeforeMillis, String lastDiagnostic, boolean delayWarned) {
        this(queueId, reversePath, recipients, body, smtpUtf8, dsnReturn, envelopeId, clientAddress, heloName,
                authenticatedAs, arrivedAtMillis, attempts, notBeforeMillis, lastDiagnostic, delayWarned, List.of());
    }

    /** A message whose sender has not been warned of any delay. */
    public Envelope(QueueId queueId, String reversePath, List<Recipient> recipients, BodyType body, boolean smtpUtf8,
            DsnReturn dsnReturn, String envelopeId, String clientAddress, String heloName, String authenticatedAs,
            long arrivedAtMillis, int attempts, long notBeforeMillis, String lastDiagnostic) {
        this(queueId, reversePath, recipients, body, smtpUtf8, dsnReturn, envelopeId, clientAddress, heloName,
                authenticatedAs, arrivedAtMillis, attempts, notBeforeMillis, lastDiagnostic, false);
    }

    public boolean hasNullReversePath() {
        return reversePath.isEmpty();
    }

    /** The same message, addressed to fewer recipients and scheduled for another attempt. */
    public Envelope forRetry(List<Recipient> remaining, int attemptsMade, long notBefore, String diagnostic) {
        return new Envelope(queueId, reversePath, remaining, body, smtpUtf8, dsnReturn, envelopeId,
                clientAddress, heloName, authenticatedAs, arrivedAtMillis, attemptsMade, notBefore, diagnostic, delayWarned, dkim);
    }

    /** The same, remembering that its sender has been warned of the delay. */
    public Envelope warned() {
        return new Envelope(queueId, reversePath, recipients, body, smtpUtf8, dsnReturn, envelopeId, clientAddress,
                heloName, authenticatedAs, arrivedAtMillis, attempts, notBeforeMillis, lastDiagnostic, true, dkim);
    }

    /** The same, with RET=HDRS: a notice returns the message's headers only (RFC 3461 section 4.3). */
    public Envelope returningHeaders() {
        return new Envelope(queueId, reversePath, recipients, body, smtpUtf8, DsnReturn.HDRS, envelopeId, clientAddress,
                heloName, authenticatedAs, arrivedAtMillis, attempts, notBeforeMillis, lastDiagnostic, delayWarned, dkim);
    }

    /** The same, recording the DKIM signatures the edge added. */
    public Envelope signedWith(List<String> signatures) {
        return new Envelope(queueId, reversePath, recipients, body, smtpUtf8, dsnReturn, envelopeId, clientAddress,
                heloName, authenticatedAs, arrivedAtMillis, attempts, notBeforeMillis, lastDiagnostic, delayWarned, signatures);
    }

    public Envelope withRecipients(List<Recipient> subset) {
        return forRetry(subset, attempts, notBeforeMillis, lastDiagnostic);
    }
}
