package net.mailrelay.delivery;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import net.mailrelay.delivery.attempt.AttemptObserver;
import net.mailrelay.delivery.attempt.DestinationGuard;
import net.mailrelay.delivery.attempt.Verdict;
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.DeliveryEvent;

/**
 * What the worker counts (docs/metrics.md): each recipient's outcome as it is recorded, the limits that
 * put mail back, and gauges over the worker's own state. Tags never name a destination or an address.
 */
public final class WorkerMetrics implements AttemptObserver {

    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Timer> attemptTimers = new ConcurrentHashMap<>();
    private final Map<String, Timer> latenessTimers = new ConcurrentHashMap<>();
    private final Counter fatalErrors;
    private final Timer delay;
    private final Timer rebuilds;
    private final Counter rebuildEntries;
    private final Counter rebuildEvents;
    private final Counter rebuildsCapped;

    public WorkerMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.delay = Timer.builder("mailrelay.delivery.delay")
                .description("From arrival at the edge to delivery, per delivered recipient (Postfix delay=)")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(10))
                .maximumExpectedValue(Duration.ofDays(5)).register(registry);
        this.rebuilds = Timer.builder("mailrelay.ledger.rebuild")
                .description("Rebuilds of the delivered-recipients ledger from mail.events, and how long each took")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(10))
                .maximumExpectedValue(Duration.ofMinutes(5)).register(registry);
        // Served from the start, so that a dashboard or an alert sees zero rather than no series.
        this.rebuildEntries = counter("mailrelay.ledger.rebuild.entries",
                "Settled recipients (delivered or bounced) put back into the ledger by its rebuilds");
        this.rebuildEvents = counter("mailrelay.ledger.rebuild.events",
                "Delivery events and bounce requests read by the ledger's rebuilds");
        this.rebuildsCapped = counter("mailrelay.ledger.rebuild.capped",
                "Ledger rebuilds that stopped at their limit (duplicates possible)");
        this.fatalErrors = counter("mailrelay.delivery.fatal.errors",
                "Delivery threads that died of an Error (OutOfMemoryError, StackOverflowError); the worker then exits");
    }

    /** A delivery thread died of an Error; the worker exits next (queue.Fatal). */
    void fatal() {
        fatalErrors.increment();
    }

    /** A rebuild of the ledger after it was lost: how long it took, what it restored, whether it stopped at its limit. */
    void rebuilt(net.mailrelay.delivery.queue.LedgerRebuild.Result r) {
        rebuilds.record(r.took());
        rebuildEntries.increment(r.entries());
        rebuildEvents.increment(r.events());
        if (r.capped()) {
            rebuildsCapped.increment();
        }
    }

    /** Counts into a private registry; for tests and tools that do not expose metrics. */
    public static WorkerMetrics none() {
        return new WorkerMetrics(new SimpleMeterRegistry());
    }

    @Override
    public void recorded(Envelope env, Verdict verdict, DeliveryEvent event) {
        if (verdict instanceof Verdict.Postponed p && event.outcome() == DeliveryEvent.Outcome.DEFERRED) {
            // Not an attempt: a cluster-wide limit, a claim or a hold put it back.
            limitWait(p.limit().name());
            return;
        }
        String outcome = event.outcome().name().toLowerCase(Locale.ROOT);
        String statusClass = event.status() == null || event.status().isEmpty() ? "0" : event.status().substring(0, 1);
        counter("mailrelay.delivery.attempts", "One per recipient and attempt", "outcome", outcome,
                "status_class", statusClass).increment();
        String cls = failureClass(event.failureClass());
        switch (event.outcome()) {
            case DEFERRED -> counter("mailrelay.delivery.deferrals", "Deferred recipients by reason",
                    "failure_class", cls).increment();
            case FAILED, EXPIRED -> counter("mailrelay.delivery.failures", "Failed or expired recipients by reason",
                    "failure_class", cls).increment();
            case DELIVERED -> delay.record(Duration.ofMillis(Math.max(0, event.atMillis() - env.arrivedAtMillis())));
            default -> {
                // deleted by the administrator: counted as an attempt outcome only
            }
        }
        attemptTimers.computeIfAbsent(outcome, o -> Timer.builder("mailrelay.delivery.attempt")
                .description("One attempt of one message to one destination, per recipient").tag("outcome", o)
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(15)).register(registry))
                .record(Duration.ofMillis(Math.max(0, event.durationMillis())));
    }

    /** How late a retry came off its tier: from the time it was due to the time it was picked up. */
    void lateness(String tier, Duration late) {
        latenessTimers.computeIfAbsent(tier, t -> Timer.builder("mailrelay.retry.lateness")
                .description("How late each retry was picked up, from its due time (per tier)").tag("tier", t)
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(10))
                .maximumExpectedValue(Duration.ofHours(2)).register(registry)).record(late);
    }

    private static String failureClass(FailureClass c) {
        return c == null ? "none" : c.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private void limitWait(String limit) {
        counter("mailrelay.delivery.limit.waits", "Recipients put back by a cluster-wide limit", "limit",
                limit.toLowerCase(Locale.ROOT)).increment();
    }

    private Counter counter(String name, String description, String... tags) {
        return counters.computeIfAbsent(name + String.join(",", tags),
                k -> Counter.builder(name).description(description).tags(tags).register(registry));
    }

    /** The guard, counting each message it turns away because its destination is suspended. */
    DestinationGuard counting(DestinationGuard guard) {
        return new DestinationGuard() {
            @Override
            public String suspended(String destination) {
                String why = guard.suspended(destination);
                if (why != null) {
                    limitWait("backoff");
                }
                return why;
            }

            @Override
            public boolean withinRate(String destination) {
                return guard.withinRate(destination);
            }

            @Override
            public void failed(String destination, String reason) {
                guard.failed(destination, reason);
            }

            @Override
            public void succeeded(String destination) {
                guard.succeeded(destination);
            }

            @Override
            public int suspendedCount() {
                return guard.suspendedCount();
            }
        };
    }

    /** Gauges over the running worker's state. */
    void watch(DeliveryWorker worker, DestinationGuard guard, net.mailrelay.delivery.attempt.Suppressions suppressions,
            String topicPrefix) {
        Gauge.builder("mailrelay.delivery.connections.active", worker, DeliveryWorker::openConnections)
                .description("Outbound SMTP connections this worker holds open").register(registry);
        Gauge.builder("mailrelay.delivery.backoffs.active", guard, DestinationGuard::suspendedCount)
                .description("Destinations the cluster has suspended after repeated failures").register(registry);
        Gauge.builder("mailrelay.suppression.entries", suppressions, s -> s.size())
                .description("Addresses on the suppression list").register(registry);
        Gauge.builder("mailrelay.queue.in.flight", worker, DeliveryWorker::inFlight)
                .description("Records this worker is working on").register(registry);
        Gauge.builder("mailrelay.queue.oldest.in.flight", worker, DeliveryWorker::oldestInFlightSeconds)
                .description("Seconds the oldest record this worker is working on has been at it").baseUnit("seconds")
                .register(registry);
        for (String topic : worker.subscribedTopics()) {
            Gauge.builder("mailrelay.queue.lag", worker, w -> w.lag(topic))
                    .description("Records on this worker's partitions not yet read")
                    .tag("topic", topic.substring(topicPrefix.length())).register(registry);
            Gauge.builder("mailrelay.queue.uncommitted", worker, w -> w.uncommitted(topic))
                    .description("Records read from this worker's partitions and not yet committed")
                    .tag("topic", topic.substring(topicPrefix.length())).register(registry);
        }
    }
}
