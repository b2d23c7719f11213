package net.mailrelay.delivery.attempt;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.NextHop;
import net.mailrelay.delivery.route.Resolution;
import net.mailrelay.delivery.route.Target;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.smtp.OutboundSession;
import net.mailrelay.delivery.smtp.SessionReport;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Recipient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One delivery attempt of one message (Postfix's smtp agent): recipients grouped by domain, each
 * domain routed (transport table first, then MX), its servers tried in order until every recipient
 * has a verdict. Blocking: it runs on a delivery thread, never on a Kafka poll thread or an event loop.
 */
public final class MessageDelivery {

    private static final Logger LOG = LoggerFactory.getLogger(MessageDelivery.class);

    private final TransportTable transports;
    private final MxResolver resolver;
    private final SmtpClient client;
    private final RecipientLedger ledger;
    private final String heloName;
    private final int maxRecipientsPerTransaction;
    private final Duration sessionLimit;

    public MessageDelivery(TransportTable transports, MxResolver resolver, SmtpClient client, RecipientLedger ledger,
            String heloName, int maxRecipientsPerTransaction, Duration sessionLimit) {
        this.transports = transports;
        this.resolver = resolver;
        this.client = client;
        this.ledger = ledger;
        this.heloName = heloName;
        this.maxRecipientsPerTransaction = maxRecipientsPerTransaction;
        this.sessionLimit = sessionLimit;
    }

    /** Delivers to every recipient of the envelope; returns one final verdict per recipient. */
    public List<Verdict> deliver(Envelope env, byte[] message, int offset, int length) throws InterruptedException {
        Map<String, List<String>> byDomain = new LinkedHashMap<>();
        List<Verdict> verdicts = new ArrayList<>();
        for (Recipient r : env.recipients()) {
            if (ledger.isDelivered(env.queueId(), r.address())) {
                // Already delivered before a crash or rebalance brought this record back.
                LOG.info("{}: to=<{}>, status=sent (delivered in an earlier attempt; skipped)", env.queueId(), r.address());
                continue;
            }
            byDomain.computeIfAbsent(r.domain(), d -> new ArrayList<>()).add(r.address());
        }
        for (Map.Entry<String, List<String>> group : byDomain.entrySet()) {
            List<String> rcpts = group.getValue();
            for (int i = 0; i < rcpts.size(); i += maxRecipientsPerTransaction) {
                List<String> batch = rcpts.subList(i, Math.min(rcpts.size(), i + maxRecipientsPerTransaction));
                verdicts.addAll(deliverToDomain(env, group.getKey(), batch, message, offset, length));
            }
        }
        double delay = (System.currentTimeMillis() - env.arrivedAtMillis()) / 1000.0;
        for (Verdict v : verdicts) {
            if (v instanceof Verdict.Delivered) {
                ledger.markDelivered(env.queueId(), v.recipient());
            }
            log(env, v, delay);
        }
        return verdicts;
    }

    /** One line per recipient and attempt, as Postfix's smtp agent logs it. */
    private static void log(Envelope env, Verdict v, double delay) {
        String relay = "none";
        String status = "deferred";
        if (v instanceof Verdict.Delivered d) {
            relay = d.host() + "[" + d.address() + "]";
            status = "sent";
        } else if (v instanceof Verdict.Deferred d && d.host() != null) {
            relay = d.host() + "[" + d.address() + "]";
        } else if (v instanceof Verdict.Failed f) {
            relay = f.host() == null ? "none" : f.host() + "[" + f.address() + "]";
            status = "bounced";
        }
        LOG.info("{}: to=<{}>, relay={}, delay={}, attempt={}, dsn={}, status={} ({})", env.queueId(), v.recipient(), relay,
                String.format(java.util.Locale.ROOT, "%.2f", delay), env.attempts() + 1, v.status(), status, v.explanation());
    }

    private List<Verdict> deliverToDomain(Envelope env, String domain, List<String> rcpts, byte[] message, int offset,
            int length) throws InterruptedException {
        Resolution route = route(domain);
        if (route instanceof Resolution.Failure f) {
            return rcpts.stream().<Verdict>map(r -> f.status().isPermanent()
                    ? new Verdict.Failed(r, f.status(), null, null, null, f.text())
                    : new Verdict.Deferred(r, f.status(), null, null, null, f.text())).toList();
        }
        List<Target> targets = ((Resolution.Targets) route).targets();
        OutboundSession.Transaction base = new OutboundSession.Transaction(heloName, env.reversePath(), rcpts,
                env.body(), env.smtpUtf8(), length);
        List<Verdict> decided = new ArrayList<>();
        List<String> pending = rcpts;
        for (int t = 0; t < targets.size() && !pending.isEmpty(); t++) {
            Target target = targets.get(t);
            OutboundSession.Transaction tx = new OutboundSession.Transaction(base.heloName(), base.reversePath(), pending,
                    base.body(), base.smtpUtf8(), base.messageSize());
            SessionReport report = session(target, tx, message, offset, length);
            List<String> next = new ArrayList<>();
            for (Verdict v : DeliveryTrouble.judge(report, pending, t < targets.size() - 1)) {
                if (v instanceof Verdict.TryNext) {
                    LOG.info("{}: to=<{}>, relay={}, trying next server: {}", env.queueId(), v.recipient(), target.host(), v.explanation());
                    next.add(v.recipient());
                } else {
                    decided.add(v);
                }
            }
            pending = next;
        }
        return decided;
    }

    private Resolution route(String domain) {
        NextHop hop = transports.lookup(domain).orElse(null);
        if (hop == null) {
            return resolver.resolve(domain);
        }
        return hop.mxLookup() ? resolver.resolve(hop.host()) : resolver.resolveHost(hop.host(), hop.port());
    }

    private SessionReport session(Target target, OutboundSession.Transaction tx, byte[] message, int offset, int length)
            throws InterruptedException {
        try {
            return client.deliver(target.host(), target.address(), tx, message, offset, length)
                    .get(sessionLimit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // The client enforces per-stage timeouts, so this is a backstop; treat it as a lost connection.
            String addr = target.address().getAddress().getHostAddress() + ":" + target.address().getPort();
            return new SessionReport(target.host(), addr, net.mailrelay.delivery.smtp.Stage.DOT, null,
                    "no result from session with " + target.host() + " within " + sessionLimit, null, Map.of(), null, null);
        }
    }
}
