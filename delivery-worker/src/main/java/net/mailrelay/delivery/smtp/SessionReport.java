package net.mailrelay.delivery.smtp;

import java.util.Map;
import net.mailrelay.protocol.smtp.EnhancedStatus;

/**
 * What one SMTP session with one server established, for the trouble logic to turn into verdicts.
 *
 * @param host the server's name, as routed
 * @param address its IP address and port
 * @param endedAt the stage where the session ended; {@link Stage#DONE} when it ran its course
 * @param endingReply the reply that ended it early (greeting, EHLO/HELO, MAIL or DATA refused), or null
 * @param ioProblem a connection failure, loss or timeout, in words; or null
 * @param localRefusal set when this client refused to go on (size over the server's limit, 8-bit
 *     content or UTF-8 addresses the server cannot take); null otherwise
 * @param recipientReplies the reply to each RCPT TO given, by recipient address
 * @param finalReply the reply to the end of data, or null when the message was not (fully) sent
 * @param tls the TLS protocol and cipher, or null for plaintext
 * @param dsn whether the server offered DSN (RFC 3461), so that NOTIFY and ORCPT were passed on to it
 */
public record SessionReport(
        String host,
        String address,
        Stage endedAt,
        RemoteReply endingReply,
        String ioProblem,
        LocalRefusal localRefusal,
        Map<String, RemoteReply> recipientReplies,
        RemoteReply finalReply,
        String tls,
        boolean dsn) {

    public SessionReport {
        recipientReplies = Map.copyOf(recipientReplies);
    }

    /** This client's own reason for not sending, with the status to report. */
    public record LocalRefusal(EnhancedStatus status, String text) {
    }

    static SessionReport notConnected(String host, String address, String problem) {
        return new SessionReport(host, address, Stage.CONNECT, null, problem, null, Map.of(), null, null, false);
    }
}
