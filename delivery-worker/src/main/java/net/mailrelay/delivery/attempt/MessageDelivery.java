package net.mailrelay.delivery.attempt;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.delivery.ledger.RecipientClaims;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.NextHop;
import net.mailrelay.delivery.route.Resolution;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.Target;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.smtp.ClientSession;
import net.mailrelay.delivery.smtp.ConnectionSpec;
import net.mailrelay.delivery.smtp.SessionReport;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.smtp.Stage;
import net.mailrelay.delivery.smtp.TlsPolicy;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusDetail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One delivery attempt of one message (Postfix's smtp agent): recipients grouped by domain, each
 * domain routed (transport table first, then MX), its servers tried in order until every recipient
 * has a verdict. Blocking: it runs on a delivery thread, never on a Kafka poll thread or an event loop.
 */
public final class MessageDelivery {

    private static final Logger LOG = LoggerFactory.getLogger(MessageDelivery.class);
    /** How long a host whose TLS handshake failed gets plaintext under opportunistic TLS. */
    private static final Duration TLS_FALLBACK_MEMORY = Duration.ofHours(1);

    private final TransportTable transports;
    private final RoutePolicies policies;
    private final MxResolver resolver;
    private final SmtpClient client;
    private final RecipientLedger ledger;
    private final RecipientClaims claims;
    private final DestinationGuard guard;
    private final Suppressions suppressions;
    private final QueueControls controls;
    private final String heloName;
    private final int maxRecipientsPerTransaction;
    private final Duration sessionLimit;
    private final TlsFallbacks fallbacks;

    public MessageDelivery(TransportTable transports, RoutePolicies policies, MxResolver resolver, SmtpClient client,
            RecipientLedger ledger, String heloName, int maxRecipientsPerTransaction, Duration sessionLimit, Clock clock) {
        this(transports, policies, resolver, client, ledger, DestinationGuard.NONE, Suppressions.NONE, heloName,
                maxRecipientsPerTransaction, sessionLimit, clock);
    }

    public MessageDelivery(TransportTable transports, RoutePolicies policies, MxResolver resolver, SmtpClient client,
            RecipientLedger ledger, DestinationGuard guard, Suppressions suppressions, String heloName,
            int maxRecipientsPerTransaction, Duration sessionLimit, Clock clock) {
        this(transports, policies, resolver, client, ledger, guard, suppressions, QueueControls.NONE, heloName,
                maxRecipientsPerTransaction, sessionLimit, clock);
    }

    public MessageDelivery(TransportTable transports, RoutePolicies policies, MxResolver resolver, SmtpClient client,
            RecipientLedger ledger, DestinationGuard guard, Suppressions suppressions, QueueControls controls,
            String heloName, int maxRecipientsPerTransaction, Duration sessionLimit, Clock clock) {
        this.guard = guard;
        this.suppressions = suppressions;
        this.controls = controls;
        this.transports = transports;
        this.policies = policies;
        this.resolver = resolver;
        this.client = client;
        this.ledger = ledger;
        this.claims = new RecipientClaims(ledger, sessionLimit);
        this.heloName = heloName;
        this.maxRecipientsPerTransaction = maxRecipientsPerTransaction;
        this.sessionLimit = sessionLimit;
        this.fallbacks = new TlsFallbacks(TLS_FALLBACK_MEMORY, clock);
    }

    /**
     * Delivers to every recipient of the envelope; returns one final verdict per recipient not settled
     * before. Each domain's recipients are settled in the ledger as soon as that domain is done, so that
     * an interruption in a later domain (a shutdown, or the record read again after a failure) does not
     * deliver them again.
     */
    public List<Verdict> deliver(Envelope env, byte[] message, int offset, int length) throws InterruptedException {
        return deliver(env, message, offset, length, done -> {
        });
    }

    /**
     * As {@link #deliver(Envelope, byte[], int, int)}, telling {@code settledEarly} of each transaction's
     * verdicts as it ends while another transaction of the message is still to come: what it delivered
     * can be made durable at once, not only when the slowest domain is done.
     */
    public List<Verdict> deliver(Envelope env, byte[] message, int offset, int length,
            java.util.function.Consumer<List<Verdict>> settledEarly) throws InterruptedException {
        QueueControls.Order order = controls.order(env.queueId().value());
        if (order != null) {
            return AdministratorOrders.carryOut(env, order, ledger);
        }
        List<Verdict> verdicts = new ArrayList<>();
        List<String> open = new ArrayList<>();
        Map<String, Boolean> held = new java.util.HashMap<>();
        for (Recipient r : env.recipients()) {
            if (held.computeIfAbsent(r.domain(), controls::held)) {
                verdicts.add(DeliveryTrouble.held(r.address(), r.domain()));
            } else {
                open.add(r.address());
            }
        }
        boolean done = false;
        try (RecipientClaims.Attempt attempt = claims.open(env.queueId(), open)) {
            attempt.heldElsewhere().forEach(r -> verdicts.add(DeliveryTrouble.claimedElsewhere(r)));
            deliverClaimed(env, byDomain(attempt, verdicts), attempt, verdicts, message, offset, length, settledEarly);
            done = true;
        } finally {
            if (!done) {
                bounceRecorded(env, verdicts, false); // no one will write these bounces: the record is read again
            }
        }
        return verdicts;
    }

    /** The claimed recipients by domain; a suppressed one fails at once (its claim kept for its bounce). */
    private Map<String, List<String>> byDomain(RecipientClaims.Attempt attempt, List<Verdict> verdicts) {
        Map<String, List<String>> byDomain = new LinkedHashMap<>();
        for (String rcpt : attempt.claimed()) {
            String suppressed = suppressions.reason(rcpt);
            if (suppressed != null) {
                Verdict v = DeliveryTrouble.suppressed(rcpt, suppressed);
                verdicts.add(v);
                attempt.settle(Map.of(rcpt, RecipientClaims.Result.FAILED));
                continue;
            }
            byDomain.computeIfAbsent(Recipient.of(rcpt).domain(), d -> new ArrayList<>()).add(rcpt);
        }
        return byDomain;
    }

    /** Who owns the recipients this delivery works on: the one place the claims protocol lives. */
    public RecipientClaims claims() {
        return claims;
    }

    /**
     * After the attempt's outcome was written (or not): marks each failed recipient bounced in the
     * ledger once its bounce request is durable, then gives up the claims {@link #deliver} kept for them.
     * Call it once for every list of verdicts {@code deliver} returned.
     */
    public void bounceRecorded(Envelope env, List<Verdict> verdicts, boolean durable) {
        List<String> failed = verdicts.stream().filter(v -> v instanceof Verdict.Failed).map(Verdict::recipient).toList();
        if (!failed.isEmpty()) {
            claims.bounceRecorded(env.queueId(), failed, durable);
        }
    }

    private void deliverClaimed(Envelope env, Map<String, List<String>> byDomain, RecipientClaims.Attempt attempt,
            List<Verdict> verdicts,
            byte[] message, int offset, int length, java.util.function.Consumer<List<Verdict>> settledEarly)
            throws InterruptedException {
        int transactions = byDomain.values().stream().mapToInt(r -> (r.size() + maxRecipientsPerTransaction - 1)
                / maxRecipientsPerTransaction).sum();
        // Declared 8BITMIME but 7-bit in fact: it can go to any server without conversion.
        BodyType body = env.body() == BodyType.EIGHT_BIT_MIME && !eightBit(message, offset, length) ? BodyType.SEVEN_BIT : env.body();
        double delay = (System.currentTimeMillis() - env.arrivedAtMillis()) / 1000.0;
        for (Map.Entry<String, List<String>> group : byDomain.entrySet()) {
            List<String> rcpts = group.getValue();
            for (int i = 0; i < rcpts.size(); i += maxRecipientsPerTransaction) {
                List<String> batch = rcpts.subList(i, Math.min(rcpts.size(), i + maxRecipientsPerTransaction));
                ClientSession.Transaction tx = new ClientSession.Transaction(env.reversePath(), batch, body, env.smtpUtf8(),
                        length, DsnParameters.mail(env), DsnParameters.recipients(env, batch));
                List<Verdict> decided;
                try {
                    decided = deliverToDomain(env, group.getKey(), tx, attempt, message, offset, length);
                } catch (RuntimeException e) {
                    // Fail closed, for this domain only: the others keep what they got, and this one is tried later.
                    LOG.error("{}: delivery to {} failed by a local error; deferred", env.queueId(), group.getKey(), e);
                    decided = DeliveryTrouble.localError(batch, e);
                }
                decided = decided.stream().map(DeliveryTrouble::finalWord).toList();
                Map<String, RecipientClaims.Result> results = new LinkedHashMap<>();
                decided.forEach(v -> results.put(v.recipient(), result(v)));
                attempt.settle(results);
                decided.forEach(v -> log(env, v, delay));
                verdicts.addAll(decided);
                if (--transactions > 0) {
                    settledEarly.accept(decided);
                }
            }
        }
    }

    /** What the ledger is told of a recipient's verdict, while its claim is still held. */
    private static RecipientClaims.Result result(Verdict v) {
        if (v instanceof Verdict.Delivered) {
            return RecipientClaims.Result.DELIVERED;
        }
        if (v instanceof Verdict.Failed) {
            return RecipientClaims.Result.FAILED;
        }
        if (v instanceof Verdict.Deferred || v instanceof Verdict.Postponed p && p.limit() != Verdict.Postponed.Limit.CLAIM) {
            // A retry copy is queued: if this record is read again (its offset was not committed before a
            // crash or rebalance) and that reading delivers, the ledger must still know when the copy comes.
            return RecipientClaims.Result.COPY_QUEUED;
        }
        return RecipientClaims.Result.NOTHING;
    }

    /** One line per recipient and attempt, as Postfix's smtp agent logs it. */
    private static void log(Envelope env, Verdict v, double delay) {
        Verdict.Remote remote = v instanceof Verdict.Delivered d ? d.remote()
                : v instanceof Verdict.Deferred d ? d.remote() : v instanceof Verdict.Failed f ? f.remote() : null;
        String relay = remote == null || remote.host() == null ? "none" : remote.host() + "[" + remote.address() + "]";
        String status = v instanceof Verdict.Delivered ? "sent" : v instanceof Verdict.Failed ? "bounced"
                : v instanceof Verdict.Postponed ? "postponed" : "deferred";
        LOG.info("{}: to=<{}>, relay={}, delay={}, attempt={}, dsn={}{}, status={} ({})", env.queueId(), v.recipient(), relay,
                String.format(Locale.ROOT, "%.2f", delay), env.attempts() + 1, v.status(),
                remote != null && remote.tls() != null ? ", tls=" + remote.tls() : "", status, v.explanation());
    }

    private List<Verdict> deliverToDomain(Envelope env, String domain, ClientSession.Transaction tx,
            RecipientClaims.Attempt attempt,
            byte[] message, int offset, int length) throws InterruptedException {
        NextHop hop = transports.lookup(domain).orElse(null);
        Resolution route = hop == null ? resolver.resolve(domain)
                : hop.mxLookup() ? resolver.resolve(hop.host()) : resolver.resolveHost(hop.host(), hop.port());
        if (route instanceof Resolution.Failure f) {
            return DeliveryTrouble.unroutable(f, tx.recipients());
        }
        List<Target> targets = ((Resolution.Targets) route).targets();
        // Limits and backoff apply to the next hop: the recipient domain, or the route's server.
        String destination = hop == null || hop.mxLookup() ? domain : hop.toString();
        String suspended = guard.suspended(destination);
        if (suspended != null) {
            return DeliveryTrouble.suspended(suspended, tx.recipients());
        }
        if (!guard.withinRate(destination)) {
            return DeliveryTrouble.overRate(destination, tx.recipients());
        }
        TlsPolicy policy = policies.tls(domain);
        List<Verdict> decided = new ArrayList<>();
        List<String> pending = tx.recipients();
        Health health = new Health();
        for (int t = 0; t < targets.size() && !pending.isEmpty(); t++) {
            Target target = targets.get(t);
            TlsPolicy effective = policy == TlsPolicy.OPPORTUNISTIC && fallbacks.plaintextOnly(target.host()) ? TlsPolicy.NONE : policy;
            ConnectionSpec spec = new ConnectionSpec(heloName, effective, policies.credentials(hop));
            List<String> next = new ArrayList<>();
            attempt.keepAlive();
            for (Verdict v : attempt(destination, target, spec, tx, pending, t < targets.size() - 1, message, offset, length,
                    health)) {
                if (v instanceof Verdict.TryNext) {
                    LOG.info("{}: to=<{}>, relay={}, trying next server: {}", env.queueId(), v.recipient(), target.host(),
                            v.explanation());
                    next.add(v.recipient());
                } else {
                    decided.add(v);
                }
            }
            pending = next;
        }
        if (health.reachedTransaction) {
            guard.succeeded(destination);
        } else if (health.lastProblem != null) {
            guard.failed(destination, health.lastProblem);
        }
        return decided;
    }

    /** What the sessions with one destination said about its health. */
    private static final class Health {
        boolean reachedTransaction;
        String lastProblem;

        void saw(SessionReport r) {
            if (DeliveryTrouble.destinationUnwell(r)) {
                lastProblem = r.ioProblem() != null ? r.ioProblem()
                        : r.endingReply() != null ? "host " + r.host() + " said: " + r.endingReply() : r.endedAt().phrase();
            } else if (r.endedAt() != Stage.WAIT) {
                reachedTransaction = true;
            }
        }
    }

    /** One server; a failed opportunistic TLS handshake is followed at once by a plaintext try. */
    private List<Verdict> attempt(String destination, Target target, ConnectionSpec spec, ClientSession.Transaction tx,
            List<String> rcpts, boolean moreServers, byte[] message, int offset, int length, Health health)
            throws InterruptedException {
        ClientSession.Transaction these = tx.forRecipients(rcpts);
        SessionReport report = session(destination, target, spec, these, message, offset, length);
        health.saw(report);
        List<Verdict> verdicts = DeliveryTrouble.judge(report, rcpts, moreServers, spec.tls());
        if (verdicts.stream().anyMatch(v -> v instanceof Verdict.TryWithoutTls)) {
            LOG.warn("TLS handshake with {} failed ({}); trying again without TLS, and using plaintext with it for {}",
                    target.host(), report.ioProblem(), TLS_FALLBACK_MEMORY);
            fallbacks.remember(target.host());
            ConnectionSpec plain = spec.withTls(TlsPolicy.NONE);
            report = session(destination, target, plain, these, message, offset, length);
            health.saw(report);
            verdicts = DeliveryTrouble.judge(report, rcpts, moreServers, plain.tls());
        }
        return verdicts;
    }

    private SessionReport session(String destination, Target target, ConnectionSpec spec, ClientSession.Transaction tx,
            byte[] message, int offset, int length) throws InterruptedException {
        try {
            return client.deliver(destination, target.host(), target.address(), spec, tx, message, offset, length)
                    .get(sessionLimit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // The client enforces per-stage timeouts, so this is a backstop; treat it as a lost connection
            // after the message may have been sent.
            String addr = target.address().getAddress().getHostAddress() + ":" + target.address().getPort();
            return new SessionReport(target.host(), addr, Stage.DOT, null,
                    "no result from session with " + target.host() + " within " + sessionLimit, null, Map.of(), null, null, false);
        }
    }

    private static boolean eightBit(byte[] m, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            if (m[i] < 0) {
                return true;
            }
        }
        return false;
    }
}
