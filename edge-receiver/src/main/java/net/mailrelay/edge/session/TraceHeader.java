package net.mailrelay.edge.session;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Locale;
import net.mailrelay.protocol.envelope.Envelope;

/**
 * The Received: trace header the edge prepends (RFC 5321 section 4.4), folded as Postfix folds it:
 *
 * <pre>
 * Received: from client.example ([192.0.2.1])
 *         by relay.example (mail-relay) with ESMTP id 0123456789ABCDEFGHJK
 *         for &lt;rcpt@example.org&gt;; Sat, 28 Nov 2026 17:51:02 +0000 (UTC)
 * </pre>
 *
 * The "with" keyword follows RFC 3848 and RFC 6531: ESMTP, plus S for TLS and A for authentication,
 * UTF8SMTP instead of ESMTP for SMTPUTF8 mail, and plain SMTP after HELO.
 */
final class TraceHeader {

    private static final DateTimeFormatter DATE =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z '(UTC)'", Locale.ROOT).withZone(ZoneOffset.UTC);

    private TraceHeader() {
    }

    /**
     * Everything the edge prepends to a message: its Received: field and, for a submission
     * ({@code submitted} is then the message's header facts), a missing Message-ID or Date.
     */
    static byte[] forMessage(Envelope e, String hostname, boolean esmtp, boolean tls, MessageFacts submitted, Instant at) {
        byte[] received = received(e.heloName(), e.clientAddress(), hostname, esmtp, e.smtpUtf8(), tls,
                e.authenticatedAs() != null, e.queueId().value(),
                e.recipients().size() == 1 ? e.recipients().get(0).address() : null, at);
        if (submitted == null || submitted.hasMessageId() && submitted.hasDate()) {
            return received;
        }
        byte[] added = missing(!submitted.hasMessageId(), !submitted.hasDate(), e.queueId().value(), hostname, at);
        byte[] both = Arrays.copyOf(received, received.length + added.length);
        System.arraycopy(added, 0, both, received.length, added.length);
        return both;
    }

    static byte[] received(String heloName, String clientAddress, String hostname, boolean esmtp, boolean utf8,
            boolean tls, boolean authenticated, String queueId, String singleRecipient, Instant at) {
        String protocol = (utf8 ? "UTF8SMTP" : esmtp ? "ESMTP" : "SMTP") + (tls ? "S" : "") + (authenticated ? "A" : "");
        StringBuilder h = new StringBuilder(256);
        h.append("Received: from ").append(sanitize(heloName)).append(" ([").append(clientAddress).append("])\r\n")
                .append("\tby ").append(hostname).append(" (mail-relay) with ").append(protocol)
                .append(" id ").append(queueId);
        if (singleRecipient != null) {
            h.append("\r\n\tfor <").append(sanitize(singleRecipient)).append(">");
        }
        h.append("; ").append(DATE.format(at)).append("\r\n");
        return h.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Message-ID and Date for a submitted message that lacks them (RFC 6409 section 8.3, Postfix
     * always_add_missing_headers on submission).
     */
    static byte[] missing(boolean messageId, boolean date, String queueId, String hostname, Instant at) {
        StringBuilder h = new StringBuilder();
        if (messageId) {
            h.append("Message-ID: <").append(queueId).append('@').append(hostname).append(">\r\n");
        }
        if (date) {
            h.append("Date: ").append(DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC).format(at)).append("\r\n");
        }
        return h.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** HELO names come from the client: keep them on one line and free of header syntax. */
    private static String sanitize(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length() && b.length() < 255; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f || c == '(' || c == ')' || c == ';' ? '?' : c);
        }
        return b.toString();
    }
}
