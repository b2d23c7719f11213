package net.mailrelay.edge;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import net.mailrelay.protocol.smtp.Reply;

/**
 * What the edge counts (docs/metrics.md). Tags stay low-cardinality: the listener, the command verb, the
 * reply code and enhanced status, never a client address or a mailbox.
 */
public final class EdgeMetrics {

    /** The verbs that get their own {@code command} tag; anything else counts as "other". */
    private static final Set<String> VERBS = Set.of("connect", "helo", "ehlo", "mail", "rcpt", "data", "bdat", "auth",
            "starttls", "rset", "noop", "vrfy", "quit");

    private final MeterRegistry registry;
    private final Map<String, PerListener> listeners = new ConcurrentHashMap<>();
    private final Map<String, Counter> rejections = new ConcurrentHashMap<>();
    private final Map<String, Counter> refusals = new ConcurrentHashMap<>();
    private final Map<String, Counter> dkimCounters = new ConcurrentHashMap<>();
    private final Timer published;
    private final Timer publishFailed;

    public EdgeMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.published = publishTimer(registry, "ok");
        this.publishFailed = publishTimer(registry, "failed");
    }

    /** Counts into a private registry; for tests and tools that do not expose metrics. */
    public static EdgeMetrics none() {
        return new EdgeMetrics(new SimpleMeterRegistry());
    }

    private static Timer publishTimer(MeterRegistry registry, String result) {
        return Timer.builder("mailrelay.edge.publish").description("From the end of DATA to Kafka's acknowledgement")
                .tag("result", result).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
    }

    /** The meters of one listener ("smtp", "submission", "submissions"). */
    public PerListener listener(String name) {
        return listeners.computeIfAbsent(name, n -> new PerListener(registry, n));
    }

    /** Every 4xx and 5xx reply, by the command it answered. */
    public void replied(String command, Reply reply) {
        int code = reply.code().code();
        if (code < 400) {
            return;
        }
        String verb = command == null ? "other" : command.toLowerCase(Locale.ROOT);
        String tagged = VERBS.contains(verb) ? verb : "other";
        String status = reply.status() == null ? "none" : reply.status().toString();
        rejections.computeIfAbsent(tagged + ' ' + code + ' ' + status, k -> Counter.builder("mailrelay.smtp.rejections")
                .description("4xx and 5xx replies, by the command they answered").tag("command", tagged)
                .tag("code", Integer.toString(code)).tag("status", status).register(registry)).increment();
    }

    public void publishTook(Duration d, boolean ok) {
        (ok ? published : publishFailed).record(d);
    }

    /**
     * A message answered 451 without ever being handed to Kafka, by reason: {@code queue_full} (the
     * publish queue's byte budget was spent), {@code queue_wait} (it waited too long behind a stuck
     * producer), {@code stopping}.
     */
    public void publishRefused(String reason) {
        refusal(reason).increment();
    }

    private Counter refusal(String reason) {
        return refusals.computeIfAbsent(reason, r -> Counter.builder("mailrelay.edge.publish.refused")
                .description("Messages answered 451 without being sent to Kafka, by reason").tag("reason", r)
                .register(registry));
    }

    /** The bytes waiting in the publish queue, for a gauge; the refusal counters start at zero with it. */
    public void publishQueue(Supplier<Number> queuedBytes) {
        Gauge.builder("mailrelay.edge.publish.queue", queuedBytes).baseUnit("bytes")
                .description("Bytes of accepted messages waiting for the Kafka producer or in the transaction it is on").strongReference(true)
                .register(registry);
        for (String reason : List.of("queue_full", "queue_wait", "stopping")) {
            refusal(reason);
        }
    }

    /** DKIM signatures added, by algorithm (rsa-sha256, ed25519-sha256). */
    public void dkimSigned(String algorithm) {
        dkim("mailrelay.dkim.signatures", "DKIM signatures added at the edge, by algorithm", "algorithm", algorithm).increment();
    }

    /**
     * A message from a client allowed to sign that went unsigned, by reason: {@code no_key} (no key for its
     * From domain), {@code not_permitted} (the user may not send as that domain), {@code no_from} (not
     * exactly one From address).
     */
    public void dkimUnsigned(String reason) {
        dkim("mailrelay.dkim.unsigned", "Messages that DKIM did not sign, by reason", "reason", reason).increment();
    }

    /** Registers the DKIM meters at zero, so that dashboards find them before the first message. */
    public void dkimMeters() {
        for (String a : List.of("rsa-sha256", "ed25519-sha256")) {
            dkim("mailrelay.dkim.signatures", "DKIM signatures added at the edge, by algorithm", "algorithm", a);
        }
        for (String r : List.of("no_key", "not_permitted", "no_from")) {
            dkim("mailrelay.dkim.unsigned", "Messages that DKIM did not sign, by reason", "reason", r);
        }
    }

    private Counter dkim(String name, String description, String tag, String value) {
        return dkimCounters.computeIfAbsent(name + ' ' + value, k -> Counter.builder(name).description(description)
                .tag(tag, value).register(registry));
    }

    /** Meters for one listener. */
    public static final class PerListener {
        private final AtomicInteger active = new AtomicInteger();
        private final Counter connections;
        private final Counter sessionsTls;
        private final Counter sessionsPlain;
        private final Counter accepted;
        private final Counter acceptedBytes;
        private final Counter authFailures;

        PerListener(MeterRegistry registry, String name) {
            registry.gauge("mailrelay.smtp.connections.active", io.micrometer.core.instrument.Tags.of("listener", name), active);
            connections = Counter.builder("mailrelay.smtp.connections").description("SMTP connections accepted")
                    .tag("listener", name).register(registry);
            sessionsTls = session(registry, name, "yes");
            sessionsPlain = session(registry, name, "no");
            accepted = Counter.builder("mailrelay.smtp.messages.accepted").description("Messages answered 250 after Kafka's ack")
                    .tag("listener", name).register(registry);
            acceptedBytes = Counter.builder("mailrelay.smtp.accepted.bytes").baseUnit("bytes")
                    .description("Size of the accepted messages").tag("listener", name).register(registry);
            authFailures = Counter.builder("mailrelay.smtp.auth.failures").description("Failed AUTH attempts")
                    .tag("listener", name).register(registry);
        }

        private static Counter session(MeterRegistry registry, String name, String tls) {
            return Counter.builder("mailrelay.smtp.sessions").description("SMTP sessions ended")
                    .tag("listener", name).tag("tls", tls).register(registry);
        }

        public void opened() {
            connections.increment();
            active.incrementAndGet();
        }

        public void closed(boolean tls) {
            active.decrementAndGet();
            (tls ? sessionsTls : sessionsPlain).increment();
        }

        public void accepted(long bytes) {
            accepted.increment();
            acceptedBytes.increment(bytes);
        }

        public void authFailed() {
            authFailures.increment();
        }
    }
}
