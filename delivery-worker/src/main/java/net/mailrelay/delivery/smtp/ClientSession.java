package net.mailrelay.delivery.smtp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusDetail;

/**
 * One outbound SMTP connection as a state machine: set up once (greeting, EHLO or HELO, STARTTLS and
 * EHLO again, AUTH) and then used for one transaction after another (RSET, MAIL, RCPT per recipient,
 * DATA, the message), with PIPELINING (RFC 2920) when the server offers it. It is fed replies and TLS
 * events and answers with what to do next; it does no I/O and makes no retry decisions: it records
 * what happened in a {@link SessionReport} per transaction.
 */
public final class ClientSession {

    /**
     * The message and envelope of one transaction.
     *
     * @param mailDsn RET and ENVID for MAIL FROM, e.g. "RET=HDRS ENVID=x", or ""
     * @param rcptDsn NOTIFY and ORCPT per recipient, e.g. "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b"; passed on
     *     only to a server that offers DSN (RFC 3461 section 5.2)
     */
    public record Transaction(String reversePath, List<String> recipients, BodyType body, boolean smtpUtf8,
            long messageSize, String mailDsn, Map<String, String> rcptDsn) {
        public Transaction {
            recipients = List.copyOf(recipients);
            if (recipients.isEmpty()) {
                throw new IllegalArgumentException("a transaction needs at least one recipient");
            }
            mailDsn = mailDsn == null ? "" : mailDsn;
            rcptDsn = rcptDsn == null ? Map.of() : Map.copyOf(rcptDsn);
        }

        public Transaction(String reversePath, List<String> recipients, BodyType body, boolean smtpUtf8, long messageSize) {
            this(reversePath, recipients, body, smtpUtf8, messageSize, "", Map.of());
        }

        /** The same message for fewer recipients. */
        public Transaction forRecipients(List<String> some) {
            return new Transaction(reversePath, some, body, smtpUtf8, messageSize, mailDsn, rcptDsn);
        }
    }

    /** What the connection must do next. */
    public sealed interface Action {
        /** Write these command lines (more than one only with PIPELINING) and read one reply for each. */
        record Send(List<String> commands) implements Action {
        }

        /** Send the message (or, with {@code empty}, only the end-of-data line). */
        record SendMessage(boolean empty) implements Action {
        }

        /** Start the TLS handshake; then call onTlsEstablished or onTlsFailed. */
        record StartTls() implements Action {
        }

        /** Set up and idle: a transaction may begin. */
        record Ready() implements Action {
        }

        /** The transaction is over, its report final; the connection stays usable. */
        record TransactionDone(SessionReport report) implements Action {
        }

        /** Send QUIT and close; the report (of the setup or the transaction) is final. */
        record Finish(SessionReport report) implements Action {
        }
    }

    private enum Phase { SETUP, READY, TRANSACTION, CLOSED }

    private final ConnectionSpec spec;
    private final String host;
    private final String address;
    private Phase phase = Phase.SETUP;
    private Stage stage = Stage.GREETING;
    private Extensions extensions = Extensions.NONE;
    private String tls;
    private boolean startTlsRefused;
    private boolean authenticated;
    private int transactions;

    // The transaction under way.
    private Transaction tx;
    private final Deque<String> unsent = new ArrayDeque<>();
    private final Deque<Stage> awaiting = new ArrayDeque<>();
    private final Map<String, RemoteReply> rcptReplies = new LinkedHashMap<>();
    private int rcptIndex;
    private RemoteReply mailRefusal;

    public ClientSession(ConnectionSpec spec, String host, String address) {
        this.spec = spec;
        this.host = host;
        this.address = address;
    }

    public Stage stage() {
        return stage;
    }

    public boolean isReady() {
        return phase == Phase.READY;
    }

    public int transactions() {
        return transactions;
    }

    public String tls() {
        return tls;
    }

    public Action onReply(RemoteReply reply) {
        return switch (phase) {
            case SETUP -> setupReply(reply);
            case TRANSACTION -> transactionReply(reply);
            default -> throw new IllegalStateException("no reply expected when " + phase);
        };
    }

    // ---- Setup ------------------------------------------------------------------------------------

    private Action setupReply(RemoteReply reply) {
        switch (stage) {
            case GREETING:
                return reply.isPositive() ? send(Stage.EHLO, "EHLO " + spec.heloName()) : fail(Stage.GREETING, reply);
            case EHLO:
                if (reply.isPositive()) {
                    extensions = Extensions.parse(reply.lines());
                    return afterHello();
                }
                // RFC 5321 section 3.2: a server that does not know EHLO says 5xx; try the old greeting.
                return reply.isPermanent() && tls == null ? send(Stage.HELO, "HELO " + spec.heloName()) : fail(Stage.EHLO, reply);
            case HELO:
                extensions = Extensions.NONE;
                return reply.isPositive() ? afterHello() : fail(Stage.HELO, reply);
            case STARTTLS:
                if (reply.code() == 220) {
                    stage = Stage.TLS_HANDSHAKE;
                    return new Action.StartTls();
                }
                if (spec.tls().mandatory()) {
                    return refuse(Stage.STARTTLS, EnhancedStatus.transientFailure(new StatusDetail(7, 4)),
                            "TLS is required, but host " + host + " refused to start TLS: " + reply);
                }
                startTlsRefused = true;
                return afterHello();
            case AUTH:
                if (reply.code() == 235) {
                    authenticated = true;
                    return ready();
                }
                return fail(Stage.AUTH, reply);
            default:
                throw new IllegalStateException("no reply expected " + stage.phrase());
        }
    }

    /** After EHLO/HELO: TLS first if wanted and possible, then AUTH if configured, then ready. */
    private Action afterHello() {
        if (tls == null && spec.tls() != TlsPolicy.NONE && !startTlsRefused) {
            if (extensions.startTls()) {
                return send(Stage.STARTTLS, "STARTTLS");
            }
            if (spec.tls().mandatory()) {
                return refuse(Stage.STARTTLS, EnhancedStatus.transientFailure(new StatusDetail(7, 4)),
                        "TLS is required, but was not offered by host " + host);
            }
        }
        if (spec.credentials() != null && !authenticated && extensions.authPlain()) {
            if (tls == null) {
                // Never send a password in the clear, whatever the policy says.
                return refuse(Stage.AUTH, EnhancedStatus.transientFailure(StatusDetail.SECURITY_OTHER),
                        "will not send credentials to host " + host + " without TLS");
            }
            return send(Stage.AUTH, "AUTH PLAIN " + plain(spec.credentials()));
        }
        return ready();
    }

    public Action onTlsEstablished(String description) {
        requireStage(Stage.TLS_HANDSHAKE);
        tls = description;
        // RFC 3207 section 4.2: the server forgets the EHLO; so does the client, and asks again.
        extensions = Extensions.NONE;
        return send(Stage.EHLO, "EHLO " + spec.heloName());
    }

    public Action onTlsFailed(String problem) {
        requireStage(Stage.TLS_HANDSHAKE);
        return finish(report(Stage.TLS_HANDSHAKE, null, "TLS handshake with " + host + " failed: " + problem, null, null));
    }

    private Action ready() {
        phase = Phase.READY;
        stage = Stage.DONE;
        return new Action.Ready();
    }

    // ---- Transactions -----------------------------------------------------------------------------

    /** Starts a transaction on a ready connection. */
    public Action begin(Transaction t) {
        if (phase != Phase.READY) {
            throw new IllegalStateException("a transaction needs a ready connection, not " + phase);
        }
        SessionReport.LocalRefusal refusal = check(t);
        if (refusal != null) {
            return new Action.TransactionDone(new SessionReport(host, address, Stage.MAIL, null, null, refusal, Map.of(),
                    null, tls, extensions.dsn()));
        }
        tx = t;
        rcptReplies.clear();
        rcptIndex = 0;
        mailRefusal = null;
        phase = Phase.TRANSACTION;
        unsent.clear();
        awaiting.clear();
        if (transactions++ > 0) {
            queue(Stage.RSET, "RSET");
        }
        queue(Stage.MAIL, mailFrom(t));
        for (String r : t.recipients()) {
            String dsn = extensions.dsn() ? t.rcptDsn().getOrDefault(r, "") : "";
            queue(Stage.RCPT, "RCPT TO:<" + r + ">" + (dsn.isEmpty() ? "" : " " + dsn));
        }
        queue(Stage.DATA, "DATA");
        stage = awaiting.peek();
        return sendQueued();
    }

    /** The reasons this client will not even try (size, 8-bit, UTF-8): permanent for this message. */
    private SessionReport.LocalRefusal check(Transaction t) {
        if (t.smtpUtf8() && !extensions.smtpUtf8()) {
            // RFC 6531 section 3.2: without SMTPUTF8 at the server the message cannot be sent as it is.
            return new SessionReport.LocalRefusal(EnhancedStatus.permanentFailure(StatusDetail.NON_ASCII_ADDRESS_NOT_PERMITTED),
                    "SMTPUTF8 is required, but was not offered by host " + host);
        }
        if (t.body() == BodyType.EIGHT_BIT_MIME && !extensions.eightBitMime()) {
            // Never send 8-bit content raw to a 7-bit server (RFC 6152 section 3).
            return new SessionReport.LocalRefusal(EnhancedStatus.permanentFailure(StatusDetail.CONVERSION_REQUIRED_NOT_POSSIBLE),
                    "8-bit content, but host " + host + " does not offer 8BITMIME");
        }
        if (extensions.sizeLimit() > 0 && t.messageSize() > extensions.sizeLimit()) {
            // RFC 1870 section 6: the server has said it will not take it.
            return new SessionReport.LocalRefusal(EnhancedStatus.permanentFailure(StatusDetail.MESSAGE_TOO_BIG_FOR_SYSTEM),
                    "message size " + t.messageSize() + " exceeds size limit " + extensions.sizeLimit() + " of server " + host);
        }
        return null;
    }

    private String mailFrom(Transaction t) {
        StringBuilder cmd = new StringBuilder("MAIL FROM:<").append(t.reversePath()).append('>');
        if (extensions.sizeLimit() >= 0) {
            cmd.append(" SIZE=").append(t.messageSize());
        }
        if (t.body() == BodyType.EIGHT_BIT_MIME) {
            cmd.append(" BODY=8BITMIME");
        }
        if (t.smtpUtf8()) {
            cmd.append(" SMTPUTF8");
        }
        if (extensions.dsn() && !t.mailDsn().isEmpty()) {
            cmd.append(' ').append(t.mailDsn());
        }
        return cmd.toString();
    }

    private Action transactionReply(RemoteReply reply) {
        Stage answered = awaiting.poll();
        if (answered == null) {
            if (stage == Stage.DOT) {
                return transactionDone(reply);
            }
            throw new IllegalStateException("unexpected reply " + reply + " at " + stage);
        }
        stage = answered;
        switch (answered) {
            case RSET -> {
                if (!reply.isPositive()) {
                    return finish(report(Stage.RSET, reply, "RSET refused by " + host, null, null));
                }
            }
            case MAIL -> {
                if (!reply.isPositive()) {
                    mailRefusal = reply;
                    if (!extensions.pipelining()) {
                        return transactionDone(null);
                    }
                }
            }
            case RCPT -> {
                String rcpt = tx.recipients().get(rcptIndex++);
                if (mailRefusal == null) {
                    rcptReplies.put(rcpt, reply);
                }
                boolean last = rcptIndex == tx.recipients().size();
                if (last && !extensions.pipelining() && !anyAccepted()) {
                    unsent.clear(); // no DATA for nobody
                    return transactionDone(null);
                }
            }
            case DATA -> {
                if (reply.code() == 354) {
                    stage = Stage.DOT;
                    // With PIPELINING, DATA may be accepted although every recipient was refused
                    // (RFC 2920 section 3.1): end it with an empty message, which delivers nothing.
                    return new Action.SendMessage(mailRefusal != null || !anyAccepted());
                }
                return transactionDone(mailRefusal == null && anyAccepted() ? reply : null);
            }
            default -> throw new IllegalStateException("unexpected stage " + answered);
        }
        stage = awaiting.isEmpty() ? stage : awaiting.peek();
        return sendQueued();
    }

    private boolean anyAccepted() {
        return rcptReplies.values().stream().anyMatch(RemoteReply::isPositive);
    }

    /** Ends the transaction: {@code reply} is the final reply, or a DATA refusal, or null. */
    private Action transactionDone(RemoteReply reply) {
        SessionReport r;
        if (mailRefusal != null) {
            r = report(Stage.MAIL, mailRefusal, null, null, null);
        } else if (stage == Stage.DATA && reply != null) {
            r = report(Stage.DATA, reply, null, null, null);
        } else {
            r = report(Stage.DONE, null, null, null, stage == Stage.DOT ? reply : null);
        }
        phase = Phase.READY;
        stage = Stage.DONE;
        tx = null;
        unsent.clear();
        awaiting.clear();
        return new Action.TransactionDone(r);
    }

    /** The connection closed or broke, or a stage timed out. */
    public Action onConnectionLost(String problem) {
        if (phase == Phase.CLOSED) {
            return new Action.Finish(null);
        }
        Stage at = stage;
        return finish(report(at, null, problem, null, null));
    }

    // ---- Helpers ----------------------------------------------------------------------------------

    private void queue(Stage s, String command) {
        unsent.add(command);
        awaiting.add(s);
    }

    /** Everything at once with PIPELINING, else the next command only. */
    private Action sendQueued() {
        if (unsent.isEmpty()) {
            return new Action.Send(List.of());
        }
        List<String> batch = new ArrayList<>();
        if (extensions.pipelining()) {
            batch.addAll(unsent);
            unsent.clear();
        } else {
            batch.add(unsent.poll());
        }
        return new Action.Send(batch);
    }

    private Action send(Stage next, String command) {
        stage = next;
        return new Action.Send(List.of(command));
    }

    private Action fail(Stage at, RemoteReply reply) {
        return finish(report(at, reply, null, null, null));
    }

    private Action refuse(Stage at, EnhancedStatus status, String text) {
        return finish(report(at, null, null, new SessionReport.LocalRefusal(status, text), null));
    }

    private Action finish(SessionReport r) {
        phase = Phase.CLOSED;
        return new Action.Finish(r);
    }

    private SessionReport report(Stage at, RemoteReply ending, String io, SessionReport.LocalRefusal refusal, RemoteReply fin) {
        return new SessionReport(host, address, at, ending, io, refusal, rcptReplies, fin, tls, extensions.dsn());
    }

    private void requireStage(Stage s) {
        if (stage != s) {
            throw new IllegalStateException("expected stage " + s + ", but at " + stage);
        }
    }

    private static String plain(Credentials c) {
        byte[] b = ("\0" + c.user() + "\0" + c.password()).getBytes(StandardCharsets.UTF_8);
        return Base64.getEncoder().encodeToString(b);
    }
}
