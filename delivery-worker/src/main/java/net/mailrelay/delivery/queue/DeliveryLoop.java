package net.mailrelay.delivery.queue;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import net.mailrelay.delivery.attempt.AttemptRecords;
import net.mailrelay.delivery.attempt.MessageDelivery;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's consumer: reads {@code mail.outbound} and the retry tiers and hands each record to a
 * delivery thread as a {@link RecordJob}; an offset is committed only when the outcome of every record
 * up to it is durable ({@link Commits}).
 *
 * <p>The poll thread never blocks and never sleeps. A retry-tier record is delivered, moved to another
 * tier, or waited for with its partition paused ({@link TierSchedule}); when too many records are in
 * flight every partition is paused ({@link Pauses}); a job that failed waits aside and runs again after
 * a backoff ({@link Backoffs}), its partition paused meanwhile if its outcome could not be written. The
 * loop polls at least every 100 ms, so {@code max.poll.interval.ms} is never at risk.
 */
public final class DeliveryLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryLoop.class);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration MEASURE_INTERVAL = Duration.ofSeconds(5);

    /** What the loop needs besides Kafka. */
    public record Settings(Topics topics, List<Duration> tiers, int maxInFlight, int maxRecordBytes, Duration shutdownGrace,
            Duration outcomeTimeout, String clientId, String groupInstanceId, Clock clock, RetryRequests retryRequests, RecipientLedger ledger,
            BiConsumer<String, Duration> lateness, LedgerRebuild.Limits rebuild, Fatal fatal) {
    }

    /** A delivery thread's report on a job: finished, or to be run again. */
    private record Completion(RecordJob job, boolean finished) {
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final OutcomeWriter writer;
    private final RecordJob.Context context;
    private final Settings settings;
    private final List<String> subscribed = new ArrayList<>();
    private final ExecutorService deliveryThreads;
    private final ConcurrentLinkedQueue<Completion> completions = new ConcurrentLinkedQueue<>();
    /** A permit per completion: a loop with every slot taken waits on it, not on a poll that cannot fetch. */
    private final java.util.concurrent.Semaphore completed = new java.util.concurrent.Semaphore(0);
    private final Commits commits;
    private final Pauses pauses = new Pauses();
    private final TierSchedule tiers;
    private final Backoffs backoffs;
    private final Coverage coverage;
    private final Thread pollThread;
    private volatile boolean running = true;
    /** Jobs started and not yet finished or abandoned, those waiting to run again included. */
    private int jobs;
    private final Map<Long, Long> jobStarts = new HashMap<>();
    // Snapshots for metrics, refreshed by the poll thread (the consumer is not thread-safe).
    private final Map<String, Long> lag = new ConcurrentHashMap<>();
    private final Map<String, Long> uncommitted = new ConcurrentHashMap<>();
    private volatile int inFlightNow;
    private volatile long oldestJobMillis;
    private long measuredAt;
    private final List<KafkaClientMetrics> clientMetrics = new CopyOnWriteArrayList<>();

    public DeliveryLoop(KafkaAccess kafka, String groupId, MessageDelivery delivery, AttemptRecords records,
            Settings settings) {
        this.settings = settings;
        subscribed.add(settings.topics().outbound());
        settings.tiers().forEach(t -> subscribed.add(settings.topics().retryTier(t)));
        this.writer = new OutcomeWriter(kafka, settings.maxRecordBytes(), settings.clientId(), settings.outcomeTimeout());
        this.context = new RecordJob.Context(delivery, records, writer, settings.clock(), settings.outcomeTimeout());
        this.commits = new Commits(delivery.claims());
        this.tiers = new TierSchedule(settings.topics(), settings.tiers(), settings.retryRequests(), settings.lateness());
        this.backoffs = new Backoffs(settings.outcomeTimeout());
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        if (settings.groupInstanceId() != null) {
            c.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, settings.groupInstanceId());
        }
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.max(1, Math.min(500, settings.maxInFlight())));
        this.consumer = new KafkaConsumer<>(kafka.consumer(settings.clientId(), settings.maxRecordBytes(), c),
                new StringDeserializer(), new ByteArrayDeserializer());
        this.coverage = new Coverage(consumer, settings.ledger(), new LedgerRebuild(kafka, settings.clientId(),
                settings.maxRecordBytes(), settings.topics().outbound(), settings.topics().events(), settings.topics().bounce(), settings.ledger(),
                settings.rebuild()), commits, pauses,
                settings.clock()::millis);
        AtomicInteger n = new AtomicInteger();
        this.deliveryThreads = Executors.newFixedThreadPool(settings.maxInFlight(), r -> {
            Thread t = new Thread(r, "delivery-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.pollThread = new Thread(this::run, "delivery-poll");
    }

    public DeliveryLoop start() {
        pollThread.start();
        return this;
    }

    private void run() {
        consumer.subscribe(subscribed, new Rebalance(consumer, this::drainCompletions, commits, pauses, tiers, this::abandonWaiting,
                coverage::assigned, settings.clock()::millis));
        try {
            while (running) {
                long now = settings.clock().millis();
                drainCompletions();
                rerunDue(now);
                noticeRetryRequests();
                boolean full = jobs >= settings.maxInFlight();
                pauses.apply(consumer, now, full);
                coverage.check(); // after the pauses are applied: a partition it releases is resumed at the next
                // Every slot taken, every partition paused: the poll can fetch nothing, and waiting in it for
                // the whole poll time held finished jobs' slots that long (a worker skipping a backlog of
                // settled records did some 80 a second). It keeps the group alive; a completion ends the wait.
                ConsumerRecords<String, byte[]> batch = consumer.poll(full ? Duration.ZERO : POLL);
                if (full && batch.isEmpty()) {
                    awaitCompletion();
                }
                completed.drainPermits();
                for (TopicPartition tp : batch.partitions()) {
                    dispatch(tp, batch.records(tp), now);
                }
                commits.commitAsync(consumer, now);
                measure(now);
            }
        } catch (WakeupException e) {
            if (running) {
                throw e;
            }
        } catch (RuntimeException e) {
            LOG.error("delivery loop stopped by an unexpected error", e);
        } finally {
            finishAndClose();
        }
    }

    /** Up to one poll time for a job to finish; a stop ({@link #close}) ends it by the next poll. */
    private void awaitCompletion() {
        try {
            completed.tryAcquire(POLL.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the next poll ends the loop
        }
    }

    private void dispatch(TopicPartition tp, List<ConsumerRecord<String, byte[]>> batch, long now) {
        boolean tier = tiers.isTier(tp);
        for (ConsumerRecord<String, byte[]> record : batch) {
            if (!tier) {
                start(RecordJob.delivery(tp, record, commits.started(tp, record.offset(), now), context));
                continue;
            }
            TierSchedule.Due due = tiers.decide(tp, record, now);
            if (due instanceof TierSchedule.Due.Hold h) {
                // Read it again once it is due; what came after it in this batch is read again too.
                consumer.seek(tp, record.offset());
                pauses.hold(tp, h.untilMillis());
                return;
            }
            long token = commits.started(tp, record.offset(), now);
            start(due instanceof TierSchedule.Due.Move m
                    ? RecordJob.move(tp, record, token, tiers.topic(m.tier()), m.notBeforeMillis(), context)
                    : RecordJob.delivery(tp, record, token, context));
        }
    }

    private void start(RecordJob job) {
        jobs++;
        jobStarts.put(job.token, job.startedAtMillis);
        run(job);
    }

    private void run(RecordJob job) {
        try {
            deliveryThreads.execute(() -> {
                boolean finished;
                try {
                    finished = job.run();
                } catch (Error e) {
                    // Its slot and its offset would stay taken for good: a silent stall. The process exits (Fatal).
                    settings.fatal().died(job.label(), e);
                    return;
                }
                completions.add(new Completion(job, finished));
                completed.release();
            });
        } catch (RejectedExecutionException e) {
            completions.add(new Completion(job, false)); // closing: it is abandoned below
        }
    }

    private void drainCompletions() {
        Completion c;
        while ((c = completions.poll()) != null) {
            RecordJob job = c.job();
            if (c.finished()) {
                commits.finished(job);
                ended(job);
            } else if (running && commits.current(job)) {
                long due = backoffs.add(job, settings.clock().millis());
                if (job.writing()) {
                    // Kafka cannot take outcomes now: fetch nothing more from this partition until the retry.
                    pauses.hold(job.tp, due);
                }
            } else {
                // Its partition was revoked, or the worker stops: the new owner reads the record again.
                abandon(job);
            }
        }
    }

    /** Runs the jobs whose backoff is over; one whose partition went elsewhere meanwhile is abandoned. */
    private void rerunDue(long now) {
        for (RecordJob job : backoffs.due(now)) {
            if (commits.current(job)) {
                run(job);
            } else {
                abandon(job);
            }
        }
    }

    private void abandonWaiting(TopicPartition tp) {
        backoffs.remove(job -> job.tp.equals(tp)).forEach(this::abandon);
    }

    private void abandon(RecordJob job) {
        ended(job);
        try {
            deliveryThreads.execute(job::abandon); // it asks Hazelcast: not on the poll thread
        } catch (RejectedExecutionException e) {
            job.abandon();
        }
    }

    private void ended(RecordJob job) {
        jobs--;
        jobStarts.remove(job.token);
    }

    /**
     * A new retry-now request: every tier partition of this worker is read through to its current end,
     * and the records for the destination are delivered now.
     */
    private void noticeRetryRequests() {
        if (!tiers.noticeRequests()) {
            return;
        }
        List<TopicPartition> assigned = consumer.assignment().stream().filter(tiers::isTier).toList();
        if (assigned.isEmpty()) {
            return;
        }
        consumer.endOffsets(assigned, Duration.ofSeconds(5)).forEach((tp, end) -> {
            if (end > consumer.position(tp, Duration.ofSeconds(5))) {
                tiers.flush(tp, end);
                pauses.lift(tp);
            }
        });
    }

    /** Snapshots for the metrics: fetch lag, uncommitted records, jobs and the oldest of them. */
    private void measure(long now) {
        inFlightNow = jobs;
        oldestJobMillis = jobStarts.values().stream().mapToLong(Long::longValue).min().orElse(now);
        if (now - measuredAt < MEASURE_INTERVAL.toMillis()) {
            return;
        }
        measuredAt = now;
        Map<String, Long> sums = new HashMap<>();
        subscribed.forEach(t -> sums.put(t, 0L));
        for (TopicPartition tp : consumer.assignment()) {
            consumer.currentLag(tp).ifPresent(l -> sums.merge(tp.topic(), l, Long::sum));
        }
        lag.putAll(sums);
        Map<String, Long> held = new HashMap<>();
        subscribed.forEach(t -> held.put(t, 0L));
        held.putAll(commits.uncommitted(consumer));
        uncommitted.putAll(held);
    }

    /** Per subscribed topic (full name), the records not yet read on this worker's partitions. */
    public Map<String, Long> lag() {
        return lag;
    }

    /** Per subscribed topic (full name), records read and not yet committed on this worker's partitions. */
    public Map<String, Long> uncommitted() {
        return uncommitted;
    }

    /** Binds the Kafka clients' own metrics (fetch and produce rates, request latency, ...) to {@code registry}. */
    public void bindClientMetrics(MeterRegistry registry) {
        KafkaClientMetrics c = new KafkaClientMetrics(consumer);
        KafkaClientMetrics p = new KafkaClientMetrics(writer.producer());
        c.bindTo(registry);
        p.bindTo(registry);
        clientMetrics.add(c);
        clientMetrics.add(p);
    }

    /** Records being worked on now, those waiting to be tried again included. */
    public int inFlight() {
        return inFlightNow;
    }

    /** How long the oldest record being worked on has been at it; zero when none is. */
    public Duration oldestInFlight() {
        return Duration.ofMillis(Math.max(0, settings.clock().millis() - oldestJobMillis));
    }

    /** Stops fetching, lets running jobs finish within the grace period, commits, leaves the group. */
    private void finishAndClose() {
        running = false;
        deliveryThreads.shutdown();
        try {
            if (!deliveryThreads.awaitTermination(settings.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                deliveryThreads.shutdownNow();
                deliveryThreads.awaitTermination(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            deliveryThreads.shutdownNow();
            Thread.currentThread().interrupt();
        }
        try {
            drainCompletions();
            backoffs.remove(job -> true).forEach(this::abandon);
            commits.commitSync(consumer, null, "at close", settings.clock().millis());
        } finally {
            coverage.close();
            commits.close();
            consumer.close();
            writer.close();
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            pollThread.join(settings.shutdownGrace().toMillis() + 30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        clientMetrics.forEach(KafkaClientMetrics::close);
    }
}
