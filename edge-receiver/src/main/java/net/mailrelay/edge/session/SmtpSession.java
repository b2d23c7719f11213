package net.mailrelay.edge.session;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
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
 * One inbound SMTP conversation as a state machine (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * SMTPUTF8, DSN, CHUNKING, STARTTLS and AUTH). It reads command lines and the ends of message content
 * and answers with the {@link Step} the network layer must take; it does no I/O. The order of commands
 * is decided by {@link Transitions}; the replies come from {@link Replies}.
 */
public final class SmtpSession {

    private static final Logger LOG = LoggerFactory.getLogger(SmtpSession.class);

    private final SessionSettings settings;
    private final ListenerPolicy listener;
    private final InetAddress client;
    private final String clientText;
    private final Clock clock;

    private SessionState state = SessionState.CONNECTED;
    private String heloName;
    private boolean esmtp;
    private int errors;
    private String tls;
    private String user;
    private SaslExchange sasl;
    private String pendingUser;
    private Transaction tx;
    static final int RECIPIENT_OVERSHOOT_LIMIT = 1000;

    /** The MAIL transaction under way (RFC 5321 section 3.3). */
    private static final class Transaction {
        final QueueId queueId;
        final String reversePath;
        final EsmtpParameters.Mail params;
        final List<Recipient> recipients = new ArrayList<>();
        int overshoot;
        long chunkOctets;
        boolean lastChunk;
        int chunks;

        Transaction(QueueId queueId, String reversePath, EsmtpParameters.Mail params) {
            this.queueId = queueId;
            this.reversePath = reversePath;
            this.params = params;
        }
    }

    public SmtpSession(SessionSettings settings, InetAddress client, Clock clock) {
        this.settings = settings;
        this.listener = settings.listener();
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
        if (state == SessionState.AUTHENTICATING) {
            return sasl(sasl.respond(line));
        }
        if (!Transitions.readsCommands(state)) {
            throw new IllegalStateException("no command is read in state " + state);
        }
        CommandLine cmd = CommandLine.parse(line);
        if (octets(line) > maxLineLength(cmd.verb())) {
            return error(Replies.LINE_TOO_LONG);
        }
        Reply refusal = Transitions.refusal(state, cmd.verb());
        if (refusal != null) {
            return cmd.verb() == Verb.BDAT ? discardChunk(cmd, refusal) : error(refusal);
        }
        return run(cmd);
    }

    /** A command line longer than the framing limit was read and dropped (RFC 5321 section 4.5.3.1.4). */
    public Step lineTooLong() {
        if (state == SessionState.AUTHENTICATING) {
            state = SessionState.IDENTIFIED;
            sasl = null;
        }
        return error(Replies.LINE_TOO_LONG);
    }

    /**
     * RFC 5321 section 4.5.3.1.4: 512 octets with CRLF, lengthened by the extensions offered: SIZE (26,
     * RFC 1870), BODY (14, RFC 6152), SMTPUTF8 (10, RFC 6531), RET/ENVID (113) and AUTH= (500, RFC 4954)
     * on MAIL; NOTIFY with ORCPT (500, RFC 3461) on RCPT; AUTH with an initial response (12288, RFC 4954).
     */
    private static int maxLineLength(Verb verb) {
        int base = 512 - 2;
        return switch (verb) {
            case MAIL -> base + 26 + 14 + 10 + 113 + 500;
            case RCPT -> base + 500;
            case AUTH -> 12288;
            default -> base;
        };
    }

    private static int octets(String line) {
        return line.length() < 128 ? line.length() : line.getBytes(StandardCharsets.UTF_8).length;
    }

    private Step run(CommandLine cmd) {
        return switch (cmd.verb()) {
            case HELO -> hello(cmd, false);
            case EHLO -> hello(cmd, true);
            case MAIL -> mail(cmd);
            case RCPT -> rcpt(cmd);
            case DATA -> data(cmd);
            case BDAT -> bdat(cmd);
            case RSET -> cmd.argument().isBlank() ? respond(reset(Replies.OK)) : error(Replies.NO_ARGUMENTS);
            case NOOP -> respond(Replies.OK);
            case QUIT -> {
                state = SessionState.CLOSED;
                yield new Step.RespondAndClose(Replies.BYE);
            }
            case VRFY -> respond(Replies.VRFY);
            case HELP -> respond(Replies.HELP);
            case STARTTLS -> startTls(cmd);
            case AUTH -> auth(cmd);
            case EXPN -> error(Replies.NOT_IMPLEMENTED);
            case UNKNOWN -> error(Replies.UNKNOWN_COMMAND);
        };
    }

    private Step hello(CommandLine cmd, boolean extended) {
        String name = cmd.argument().trim();
        if (name.isEmpty() || name.indexOf(' ') >= 0) {
            return error(extended ? Replies.EHLO_SYNTAX : Replies.HELO_SYNTAX);
        }
        // RFC 5321 section 4.1.4: HELO/EHLO in the middle of a transaction resets it.
        reset(null);
        heloName = name;
        esmtp = extended;
        state = SessionState.IDENTIFIED;
        if (!extended) {
            return respond(Replies.helo(settings.hostname()));
        }
        List<String> ext = new ArrayList<>(List.of("PIPELINING", "SIZE " + settings.maxMessageSize(), "ENHANCEDSTATUSCODES",
                "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"));
        if (listener.startTlsOffered() && tls == null) {
            ext.add("STARTTLS");
        }
        if (authAvailable() && user == null) {
            ext.add("AUTH " + SaslExchange.MECHANISMS);
        }
        return respond(Replies.ehlo(settings.hostname(), ext));
    }

    /** AUTH only over TLS (RFC 4954 section 4: no plaintext passwords on an unprotected connection). */
    private boolean authAvailable() {
        return listener.authOffered() && tls != null;
    }

    private Step mail(CommandLine cmd) {
        if (listener.authRequired() && user == null) {
            return error(Replies.AUTH_REQUIRED);
        }
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
        if (!path.bracketed() && listener.strictEnvelopes()) {
            return error(Replies.PATH_WITHOUT_BRACKETS);
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
        if (!path.bracketed() && listener.strictEnvelopes()) {
            return error(Replies.PATH_WITHOUT_BRACKETS);
        }
        EsmtpParameters.Rcpt params = EsmtpParameters.rcpt(path.parameters());
        if (params.error() != null) {
            return error(params.error());
        }
        if (!path.mailbox().isAscii() && !tx.params.smtpUtf8()) {
            return error(Replies.NON_ASCII_ADDRESS);
        }
        if (tx.recipients.size() >= settings.maxRecipients()) {
            // Postfix's smtpd_recipient_overshoot_limit: past this many refused recipients each one counts
            // as an error, so a client that never stops sending RCPT ends at the error limit.
            return ++tx.overshoot > RECIPIENT_OVERSHOOT_LIMIT ? error(Replies.TOO_MANY_RECIPIENTS)
                    : respond(Replies.TOO_MANY_RECIPIENTS);
        }
        String address = path.mailbox().toString();
        if (!settings.relayPolicy().permits(client, user != null, path.mailbox().localPart(),
                path.mailbox().domainKey())) {
            LOG.info("{}: reject: RCPT from [{}]: {}; from=<{}> to=<{}> helo=<{}>", tx.queueId, clientText,
                    Replies.relayDenied(address), tx.reversePath, address, heloName);
            return error(Replies.relayDenied(address));
        }
        String blocked = settings.blocks().reason(address);
        if (blocked != null) {
            LOG.info("{}: reject: RCPT from [{}]: suppressed recipient <{}> ({})", tx.queueId, clientText, address, blocked);
            return error(Replies.suppressed(address));
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

    private Step bdat(CommandLine cmd) {
        BdatArgument chunk = BdatArgument.parse(cmd.argument());
        if (chunk == null) {
            // Without a size the chunk cannot be skipped: the conversation is out of step (RFC 3030).
            state = SessionState.CLOSED;
            return new Step.RespondAndClose(Replies.BDAT_SYNTAX);
        }
        tx.chunkOctets = chunk.octets();
        tx.lastChunk = chunk.last();
        state = SessionState.RECEIVING_CHUNK;
        return new Step.ReceiveChunk(chunk.octets(), tx.chunks++ == 0);
    }

    private Step discardChunk(CommandLine cmd, Reply refusal) {
        BdatArgument chunk = BdatArgument.parse(cmd.argument());
        if (chunk == null) {
            state = SessionState.CLOSED;
            return new Step.RespondAndClose(Replies.BDAT_SYNTAX);
        }
        Step counted = error(refusal);
        return counted instanceof Step.Respond r ? new Step.DiscardChunk(chunk.octets(), r.reply()) : counted;
    }

    /**
     * A BDAT chunk was read; {@code totalSize} counts every chunk of the message so far. {@code facts}
     * describes the message and is only looked at after the LAST chunk.
     */
    public Step chunkEnded(long totalSize, MessageFacts facts) {
        require(SessionState.RECEIVING_CHUNK);
        if (!tx.lastChunk) {
            state = SessionState.CHUNKING;
            return respond(Replies.chunkReceived(tx.chunkOctets));
        }
        return finishMessage(totalSize, facts);
    }

    /**
     * The end-of-data line was read. When {@code size} passed the limit the content was dropped and the
     * message is refused, but the session goes on (RFC 1870).
     */
    public Step endOfData(long size, MessageFacts facts) {
        require(SessionState.RECEIVING_DATA);
        return finishMessage(size, facts);
    }

    private Step finishMessage(long size, MessageFacts facts) {
        Reply refusal = null;
        if (size > settings.maxMessageSize()) {
            refusal = Replies.MESSAGE_TOO_BIG;
        } else if (facts.receivedHeaders() > settings.maxReceivedHeaders()) {
            refusal = Replies.TOO_MANY_HOPS;
        } else if (facts.bareLineFeeds() > 0 && settings.bareLineFeeds() == BareLineFeeds.REJECT) {
            LOG.info("{}: reject: END-OF-MESSAGE from [{}]: {}", tx.queueId, clientText, Replies.BARE_LF);
            state = SessionState.CLOSED;
            return new Step.RespondAndClose(Replies.BARE_LF);
        }
        if (refusal != null) {
            LOG.info("{}: reject: END-OF-MESSAGE from [{}]: {}; size={}", tx.queueId, clientText, refusal, size);
            state = SessionState.RCPT_GIVEN;
            return error(reset(refusal));
        }
        Instant now = clock.instant();
        Envelope envelope = new Envelope(tx.queueId, tx.reversePath, tx.recipients, tx.params.body(),
                tx.params.smtpUtf8(), tx.params.ret(), tx.params.envelopeId(), clientText, heloName, user,
                now.toEpochMilli(), 0, 0, null);
        byte[] trace = TraceHeader.forMessage(envelope, settings.hostname(), esmtp, tls != null,
                listener.submission() ? facts : null, now);
        state = SessionState.QUEUEING;
        return new Step.Publish(envelope, trace);
    }

    /** Kafka acknowledged the record: now, and only now, the message is ours (250). */
    public Reply published(long size) {
        return published(size, java.util.List.of());
    }

    /** As {@link #published(long)}, for a message the edge signed with these DKIM signatures ("d=D s=S a=A"). */
    public Reply published(long size, java.util.List<String> dkim) {
        require(SessionState.QUEUEING);
        LOG.info("{}: from=<{}>, size={}, nrcpt={}, client=[{}], helo=<{}>{}{}{}: queued", tx.queueId, tx.reversePath, size,
                tx.recipients.size(), clientText, heloName, tls == null ? "" : ", tls=" + tls,
                user == null ? "" : ", sasl_username=" + user, dkim.isEmpty() ? "" : ", dkim=(" + String.join(", ", dkim) + ")");
        Reply r = Replies.queued(tx.queueId.value());
        state = SessionState.RCPT_GIVEN;
        return reset(r);
    }

    /** The record was not acknowledged in time: the client keeps the message and tries again later. */
    public Reply publishFailed(String reason) {
        require(SessionState.QUEUEING);
        LOG.warn("{}: temporary failure: queue did not acknowledge ({}); from=<{}>, client=[{}]", tx.queueId, reason,
                tx.reversePath, clientText);
        state = SessionState.RCPT_GIVEN;
        return reset(Replies.QUEUE_UNAVAILABLE);
    }

    private Step startTls(CommandLine cmd) {
        if (!listener.startTlsOffered()) {
            return error(Replies.NOT_IMPLEMENTED);
        }
        if (tls != null) {
            return error(Replies.TLS_ALREADY_ACTIVE);
        }
        if (!cmd.argument().isBlank()) {
            return error(Replies.STARTTLS_SYNTAX);
        }
        state = SessionState.STARTING_TLS;
        return new Step.StartTls(Replies.START_TLS);
    }

    /**
     * The TLS handshake completed (after STARTTLS, or at connect on an implicit-TLS listener). RFC 3207
     * section 4.2: everything learnt before it is forgotten; the client must say EHLO again.
     */
    public void tlsEstablished(String protocolAndCipher) {
        if (state != SessionState.STARTING_TLS && state != SessionState.CONNECTED) {
            throw new IllegalStateException("TLS established in state " + state);
        }
        tls = protocolAndCipher;
        heloName = null;
        esmtp = false;
        tx = null;
        state = SessionState.CONNECTED;
    }

    private Step auth(CommandLine cmd) {
        if (!authAvailable()) {
            return error(Replies.AUTH_NOT_ENABLED);
        }
        if (user != null) {
            return error(Replies.ALREADY_AUTHENTICATED);
        }
        sasl = new SaslExchange();
        return sasl(sasl.start(cmd.argument()));
    }

    private Step sasl(SaslExchange.Result result) {
        if (result instanceof SaslExchange.Result.Challenge c) {
            state = SessionState.AUTHENTICATING;
            return respond(c.reply());
        }
        sasl = null;
        if (result instanceof SaslExchange.Result.Credentials c) {
            state = SessionState.VERIFYING_CREDENTIALS;
            pendingUser = c.user();
            return new Step.Authenticate(c.user(), c.password());
        }
        state = SessionState.IDENTIFIED;
        return error(((SaslExchange.Result.Refused) result).reply());
    }

    /** The credentials check answered. Passwords are never logged; user names are. */
    public Step authenticated(AuthOutcome outcome) {
        require(SessionState.VERIFYING_CREDENTIALS);
        state = SessionState.IDENTIFIED;
        String who = pendingUser;
        pendingUser = null;
        switch (outcome) {
            case ACCEPTED -> {
                user = who;
                LOG.info("client=[{}], sasl_username={}: authenticated", clientText, who);
                return respond(Replies.AUTH_OK);
            }
            case THROTTLED -> {
                LOG.warn("client=[{}]: too many authentication failures; disconnecting", clientText);
                state = SessionState.CLOSED;
                return new Step.RespondAndClose(Replies.AUTH_THROTTLED);
            }
            case UNAVAILABLE -> {
                return respond(Replies.AUTH_UNAVAILABLE);
            }
            default -> {
                LOG.warn("client=[{}]: authentication failed for sasl_username={}", clientText, who);
                return error(Replies.AUTH_FAILED);
            }
        }
    }

    private void require(SessionState expected) {
        if (state != expected) {
            throw new IllegalStateException("expected state " + expected + ", but in " + state);
        }
    }

    /** Ends any transaction (RFC 5321 section 4.1.1.5) and returns the reply, for chaining. */
    private Reply reset(Reply reply) {
        tx = null;
        if (state == SessionState.MAIL_GIVEN || state == SessionState.RCPT_GIVEN || state == SessionState.CHUNKING) {
            state = SessionState.IDENTIFIED;
        }
        return reply;
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
