package net.mailrelay.edge.session;

import java.net.InetAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.smtp.AddressSyntaxException;
import net.mailrelay.protocol.smtp.CommandLine;
import net.mailrelay.protocol.smtp.CommandLine.Verb;
import net.mailrelay.protocol.smtp.PathArgument;
import net.mailrelay.protocol.smtp.Reply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One inbound SMTP conversation as a state machine (RFC 5321). It reads command lines and the end of
 * message content, and answers with the {@link Step} the network layer must take; it does no I/O. The
 * order of commands is decided by {@link Transitions}; the replies come from {@link Replies}.
 */
public final class SmtpSession {

    private static final Logger LOG = LoggerFactory.getLogger(SmtpSession.class);

    private final SessionSettings settings;
    private final InetAddress client;
    private final String clientText;
    private final Clock clock;

    private SessionState state = SessionState.CONNECTED;
    private String heloName;
    private boolean esmtp;
    private int errors;
    private Transaction tx;

    /** The MAIL transaction under way (RFC 5321 section 3.3). */
    private static final class Transaction {
        final QueueId queueId;
        final String reversePath;
        final EsmtpParameters.Mail params;
        final List<Recipient> recipients = new ArrayList<>();

        Transaction(QueueId queueId, String reversePath, EsmtpParameters.Mail params) {
            this.queueId = queueId;
            this.reversePath = reversePath;
            this.params = params;
        }
    }

    public SmtpSession(SessionSettings settings, InetAddress client, Clock clock) {
        this.settings = settings;
        this.client = client;
        this.clientText = client.getHostAddress();
        this.clock = clock;
    }

    public SessionState state() {
        return state;
    }

    public Reply greeting() {
        return Replies.greeting(settings.hostname());
    }

    /** The queue id of the open transaction, or null: for log lines. */
    public String queueId() {
        return tx == null ? null : tx.queueId.value();
    }

    public Step command(String line) {
        if (state == SessionState.CLOSED || state == SessionState.RECEIVING_DATA || state == SessionState.QUEUEING) {
            throw new IllegalStateException("no command is read in state " + state);
        }
        CommandLine cmd = CommandLine.parse(line);
        if (octets(line) > maxLineLength(cmd.verb())) {
            return error(Replies.LINE_TOO_LONG);
        }
        Reply refusal = Transitions.refusal(state, cmd.verb());
        return refusal != null ? error(refusal) : run(cmd);
    }

    /**
     * RFC 5321 section 4.5.3.1.4: 512 octets with CRLF, lengthened by the extensions we offer: SIZE (26,
     * RFC 1870), BODY (14, RFC 6152), SMTPUTF8 (10, RFC 6531) and RET/ENVID (113) on MAIL, and NOTIFY with
     * ORCPT (500, RFC 3461) on RCPT.
     */
    private static int maxLineLength(Verb verb) {
        int base = 512 - 2;
        return switch (verb) {
            case MAIL -> base + 26 + 14 + 10 + 113;
            case RCPT -> base + 500;
            default -> base;
        };
    }

    private static int octets(String line) {
        return line.length() < 128 ? line.length() : line.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    /** A command line longer than the limit was read and dropped (RFC 5321 section 4.5.3.1.4). */
    public Step lineTooLong() {
        return error(Replies.LINE_TOO_LONG);
    }

    private Step run(CommandLine cmd) {
        return switch (cmd.verb()) {
            case HELO -> hello(cmd, false);
            case EHLO -> hello(cmd, true);
            case MAIL -> mail(cmd);
            case RCPT -> rcpt(cmd);
            case DATA -> data(cmd);
            case RSET -> noArguments(cmd, () -> {
                reset();
                return Replies.OK;
            });
            case NOOP -> respond(Replies.OK);
            case QUIT -> {
                state = SessionState.CLOSED;
                yield new Step.RespondAndClose(Replies.BYE);
            }
            case VRFY -> respond(Replies.VRFY);
            case HELP -> respond(Replies.HELP);
            case EXPN, STARTTLS, AUTH, BDAT -> error(Replies.NOT_IMPLEMENTED);
            case UNKNOWN -> error(Replies.UNKNOWN_COMMAND);
        };
    }

    private Step hello(CommandLine cmd, boolean extended) {
        String name = cmd.argument().trim();
        if (name.isEmpty() || name.indexOf(' ') >= 0) {
            return error(extended ? Replies.EHLO_SYNTAX : Replies.HELO_SYNTAX);
        }
        // RFC 5321 section 4.1.4: HELO/EHLO in the middle of a transaction resets it.
        reset();
        heloName = name;
        esmtp = extended;
        state = SessionState.IDENTIFIED;
        if (!extended) {
            return respond(Replies.helo(settings.hostname()));
        }
        return respond(Replies.ehlo(settings.hostname(), List.of(
                "PIPELINING",
                "SIZE " + settings.maxMessageSize(),
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
                "DSN",
                "SMTPUTF8")));
    }

    private Step mail(CommandLine cmd) {
        String arg = cmd.afterKeyword("FROM:");
        if (arg == null) {
            return error(Replies.MAIL_SYNTAX);
        }
        PathArgument path;
        try {
            path = PathArgument.parse(arg, true);
        } catch (AddressSyntaxException e) {
            return error(Replies.badSender(e.getMessage()));
        }
        if (!esmtp && !path.parameters().isEmpty()) {
            return error(Replies.unsupportedParameter(path.parameters().keySet().iterator().next()));
        }
        EsmtpParameters.Mail params = EsmtpParameters.mail(path.parameters());
        if (params.error() != null) {
            return error(params.error());
        }
        if (params.size() > settings.maxMessageSize()) {
            return error(Replies.MESSAGE_TOO_BIG);
        }
        if (path.mailbox() != null && !path.mailbox().isAscii() && !params.smtpUtf8()) {
            return error(Replies.NON_ASCII_ADDRESS);
        }
        tx = new Transaction(QueueId.next(clock.millis()), path.mailbox() == null ? "" : path.mailbox().toString(), params);
        state = SessionState.MAIL_GIVEN;
        return respond(Replies.SENDER_OK);
    }

    private Step rcpt(CommandLine cmd) {
        String arg = cmd.afterKeyword("TO:");
        if (arg == null) {
            return error(Replies.RCPT_SYNTAX);
        }
        PathArgument path;
        try {
            path = PathArgument.parse(arg, false);
        } catch (AddressSyntaxException e) {
            return error(Replies.badRecipient(e.getMessage()));
        }
        EsmtpParameters.Rcpt params = EsmtpParameters.rcpt(path.parameters());
        if (params.error() != null) {
            return error(params.error());
        }
        if (!path.mailbox().isAscii() && !tx.params.smtpUtf8()) {
            return error(Replies.NON_ASCII_ADDRESS);
        }
        if (tx.recipients.size() >= settings.maxRecipients()) {
            return respond(Replies.TOO_MANY_RECIPIENTS);
        }
        String address = path.mailbox().toString();
        if (!settings.relayPolicy().permits(client, false, path.mailbox().domainKey())) {
            LOG.info("{}: reject: RCPT from [{}]: {}; from=<{}> to=<{}> helo=<{}>", tx.queueId, clientText,
                    Replies.relayDenied(address), tx.reversePath, address, heloName);
            return error(Replies.relayDenied(address));
        }
        tx.recipients.add(new Recipient(address, params.orcpt(), params.notifyOn()));
        state = SessionState.RCPT_GIVEN;
        return respond(Replies.RECIPIENT_OK);
    }

    private Step data(CommandLine cmd) {
        if (!cmd.argument().isBlank()) {
            return error(Replies.DATA_SYNTAX);
        }
        state = SessionState.RECEIVING_DATA;
        return new Step.ReceiveData(Replies.START_DATA);
    }

    /**
     * The end-of-data line was read. {@code size} counts the content bytes received; when it passed the
     * limit the content was dropped and the message is refused, but the session goes on (RFC 1870).
     */
    public Step endOfData(long size) {
        if (state != SessionState.RECEIVING_DATA) {
            throw new IllegalStateException("end of data in state " + state);
        }
        if (size > settings.maxMessageSize()) {
            LOG.info("{}: reject: END-OF-MESSAGE from [{}]: {}; size={}", tx.queueId, clientText, Replies.MESSAGE_TOO_BIG, size);
            reset();
            state = SessionState.IDENTIFIED;
            return error(Replies.MESSAGE_TOO_BIG);
        }
        java.time.Instant now = clock.instant();
        Envelope envelope = new Envelope(tx.queueId, tx.reversePath, tx.recipients, tx.params.body(),
                tx.params.smtpUtf8(), tx.params.ret(), tx.params.envelopeId(), clientText, heloName, null,
                now.toEpochMilli(), 0, 0, null);
        byte[] trace = TraceHeader.received(heloName, clientText, settings.hostname(), esmtp, tx.params.smtpUtf8(),
                false, false, tx.queueId.value(), tx.recipients.size() == 1 ? tx.recipients.get(0).address() : null, now);
        state = SessionState.QUEUEING;
        return new Step.Publish(envelope, trace);
    }

    /** Kafka acknowledged the record: now, and only now, the message is ours (250). */
    public Reply published(long size) {
        requireQueueing();
        LOG.info("{}: from=<{}>, size={}, nrcpt={}, client=[{}], helo=<{}>: queued", tx.queueId, tx.reversePath, size,
                tx.recipients.size(), clientText, heloName);
        Reply r = Replies.queued(tx.queueId.value());
        reset();
        state = SessionState.IDENTIFIED;
        return r;
    }

    /** The record was not acknowledged in time: the client keeps the message and tries again later. */
    public Reply publishFailed(String reason) {
        requireQueueing();
        LOG.warn("{}: temporary failure: queue did not acknowledge ({}); from=<{}>, client=[{}]", tx.queueId, reason,
                tx.reversePath, clientText);
        reset();
        state = SessionState.IDENTIFIED;
        return Replies.QUEUE_UNAVAILABLE;
    }

    private void requireQueueing() {
        if (state != SessionState.QUEUEING) {
            throw new IllegalStateException("no message is being queued in state " + state);
        }
    }

    private void reset() {
        tx = null;
        if (state == SessionState.MAIL_GIVEN || state == SessionState.RCPT_GIVEN) {
            state = SessionState.IDENTIFIED;
        }
    }

    private Step noArguments(CommandLine cmd, java.util.function.Supplier<Reply> action) {
        return cmd.argument().isBlank() ? respond(action.get()) : error(Replies.NO_ARGUMENTS);
    }

    private static Step respond(Reply r) {
        return new Step.Respond(r);
    }

    /** Counts the error; past the limit the server says 421 and hangs up (Postfix smtpd_hard_error_limit). */
    private Step error(Reply r) {
        if (++errors >= settings.maxErrors()) {
            state = SessionState.CLOSED;
            LOG.info("too many errors from [{}] after {}", clientText, r);
            return new Step.RespondAndClose(Replies.TOO_MANY_ERRORS);
        }
        return new Step.Respond(r);
    }
}
