package net.mailrelay.delivery.smtp;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusDetail;

/**
 * One outbound SMTP transaction as a state machine (RFC 5321 section 3.3): greeting, EHLO (HELO when
 * EHLO is refused), MAIL, one RCPT per recipient, DATA, the message, QUIT. It is fed replies and
 * connection events and answers with the next thing to send; it does no I/O and makes no retry
 * decisions: it only records what happened, in a {@link SessionReport}.
 */
public final class OutboundSession {

    /** The message and envelope to send. */
    public record Transaction(String heloName, String reversePath, List<String> recipients, BodyType body,
            boolean smtpUtf8, long messageSize) {
        public Transaction {
            recipients = List.copyOf(recipients);
            if (recipients.isEmpty()) {
                throw new IllegalArgumentException("a transaction needs at least one recipient");
            }
        }
    }

    /** What the connection must do next. */
    public sealed interface Action {
        record Send(String command) implements Action {
        }

        /** Send the message content followed by the end-of-data line. */
        record SendMessage() implements Action {
        }

        /** Send QUIT (best effort) and close; the report is final. */
        record Finish() implements Action {
        }
    }

    private final Transaction tx;
    private final String host;
    private final String address;
    private final Map<String, RemoteReply> rcptReplies = new LinkedHashMap<>();
    private Stage stage = Stage.GREETING;
    private Extensions extensions = Extensions.NONE;
    private int nextRcpt;
    private SessionReport report;

    public OutboundSession(Transaction tx, String host, String address) {
        this.tx = tx;
        this.host = host;
        this.address = address;
    }

    public Stage stage() {
        return stage;
    }

    /** The outcome, once the session has finished. */
    public SessionReport report() {
        return report;
    }

    public Action onReply(RemoteReply reply) {
        return switch (stage) {
            case GREETING -> reply.isPositive() ? send(Stage.EHLO, "EHLO " + tx.heloName()) : endEarly(reply);
            case EHLO -> afterEhlo(reply);
            case HELO -> reply.isPositive() ? mailFrom() : endEarly(reply);
            case MAIL -> reply.isPositive() ? nextRecipient() : endEarly(reply);
            case RCPT -> {
                rcptReplies.put(tx.recipients().get(nextRcpt - 1), reply);
                yield nextRecipient();
            }
            case DATA -> {
                if (reply.code() == 354) {
                    stage = Stage.DOT;
                    yield new Action.SendMessage();
                }
                yield endEarly(reply);
            }
            case DOT -> finish(Stage.DONE, null, null, reply);
            default -> throw new IllegalStateException("no reply expected " + stage.phrase());
        };
    }

    /** The connection closed or broke before the session was over. */
    public Action onConnectionLost(String problem) {
        if (report == null) {
            finish(stage, null, problem, null);
        }
        return new Action.Finish();
    }

    private Action afterEhlo(RemoteReply reply) {
        if (reply.isPositive()) {
            extensions = Extensions.parse(reply.lines());
            return mailFrom();
        }
        // RFC 5321 section 3.2: a server that does not know EHLO says 5xx; try the old greeting.
        return reply.isPermanent() ? send(Stage.HELO, "HELO " + tx.heloName()) : endEarly(reply);
    }

    private Action mailFrom() {
        if (tx.smtpUtf8() && !extensions.smtpUtf8()) {
            // RFC 6531 section 3.2: without SMTPUTF8 at the server the message cannot be sent as it is.
            return refuse(EnhancedStatus.permanentFailure(StatusDetail.NON_ASCII_ADDRESS_NOT_PERMITTED),
                    "SMTPUTF8 is required, but was not offered by host " + host);
        }
        if (tx.body() == BodyType.EIGHT_BIT_MIME && !extensions.eightBitMime()) {
            // Never send 8-bit content raw to a 7-bit server (RFC 6152 section 3).
            return refuse(EnhancedStatus.permanentFailure(StatusDetail.CONVERSION_REQUIRED_NOT_POSSIBLE),
                    "8-bit content, but host " + host + " does not offer 8BITMIME");
        }
        if (extensions.sizeLimit() > 0 && tx.messageSize() > extensions.sizeLimit()) {
            // RFC 1870 section 6: the server has said it will not take it; a permanent failure for this message.
            return refuse(EnhancedStatus.permanentFailure(StatusDetail.MESSAGE_TOO_BIG_FOR_SYSTEM),
                    "message size " + tx.messageSize() + " exceeds size limit " + extensions.sizeLimit() + " of server " + host);
        }
        StringBuilder cmd = new StringBuilder("MAIL FROM:<").append(tx.reversePath()).append('>');
        if (extensions.sizeLimit() >= 0) {
            cmd.append(" SIZE=").append(tx.messageSize());
        }
        if (tx.body() == BodyType.EIGHT_BIT_MIME) {
            cmd.append(" BODY=8BITMIME");
        }
        if (tx.smtpUtf8()) {
            cmd.append(" SMTPUTF8");
        }
        return send(Stage.MAIL, cmd.toString());
    }

    private Action nextRecipient() {
        if (nextRcpt < tx.recipients().size()) {
            return send(Stage.RCPT, "RCPT TO:<" + tx.recipients().get(nextRcpt++) + ">");
        }
        boolean anyAccepted = rcptReplies.values().stream().anyMatch(RemoteReply::isPositive);
        if (!anyAccepted) {
            return finish(Stage.DONE, null, null, null);
        }
        return send(Stage.DATA, "DATA");
    }

    private Action send(Stage next, String command) {
        stage = next;
        return new Action.Send(command);
    }

    private Action endEarly(RemoteReply reply) {
        return finish(stage, reply, null, null);
    }

    private Action refuse(EnhancedStatus status, String text) {
        report = new SessionReport(host, address, stage, null, null, new SessionReport.LocalRefusal(status, text),
                rcptReplies, null, null);
        stage = Stage.QUIT;
        return new Action.Finish();
    }

    private Action finish(Stage endedAt, RemoteReply endingReply, String ioProblem, RemoteReply finalReply) {
        report = new SessionReport(host, address, endedAt, endingReply, ioProblem, null, rcptReplies, finalReply, null);
        stage = Stage.QUIT;
        return new Action.Finish();
    }
}
