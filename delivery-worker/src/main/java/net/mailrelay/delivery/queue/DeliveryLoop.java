package net.mailrelay.delivery.queue;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import net.mailrelay.delivery.attempt.AttemptRecords;
import net.mailrelay.delivery.attempt.MessageDelivery;
import net.mailrelay.delivery.attempt.RecipientLedger;
import net.mailrelay.delivery.attempt.Verdict;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import net.mailrelay.protocol.record.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's consumer: reads {@code mail.outbound} and the retry tiers, hands each record to a
 * delivery thread, and commits an offset only when the outcome of every record up to it is durable.
 *
 * <p>The poll thread never blocks and never sleeps: a retry-tier partition whose head record is not
 * yet due is sought back to that record and paused until its time; when too many deliveries are in
 * flight every partition is paused (backpressure); a record whose outcome could not be written is read
 * again after a pause. Pauses are lifted by the same loop, which polls at least every 100 ms, so
 * {@code max.poll.interval.ms} is never at risk.
 */
public final class DeliveryLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryLoop.class);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration OUTCOME_RETRY_PAUSE = Duration.ofSeconds(5);
    /**
     * Offsets are committed at most this often (and on revocation and at close): a commit per poll cost
     * a write to __consumer_offsets per message. A crash repeats at most this much finished work.
     */
    private static final long COMMIT_INTERVAL_NANOS = Duration.ofMillis(500).toNanos();

    /** A delivery thread's report that a record is finished (or must be read again). */
    private record Completion(TopicPartition tp, long offset, long epoch, boolean durable, Settled settled) {
        Completion(TopicPartition tp, long offset, long epoch, boolean durable) {
            this(tp, offset, epoch, durable, null);
        }
    }

    /** The recipients of one record that were delivered or bounced: forgotten by the ledger once its offset is committed. */
    private record Settled(QueueId queueId, List<String> recipients) {
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final OutcomeWriter writer;
    private final MessageDelivery delivery;
    private final AttemptRecords records;
    private final Topics topics;
    private final List<String> subscribed;
    private final int maxInFlight;
    private final Duration shutdownGrace;
    private final Clock clock;
    private final ExecutorService deliveryThreads;
    private final ConcurrentLinkedQueue<Completion> completions = new ConcurrentLinkedQueue<>();
    private final OffsetTracker tracker = new OffsetTracker();
    private final Map<TopicPartition, Long> pausedUntil = new HashMap<>();
    private final RetryRequests retryRequests;
    private final Map<String, Long> requestsSeen = new HashMap<>();
    /** Tier partitions being flushed: records before this offset are looked at now, due or not. */
    private final Map<TopicPartition, Long> flushUntil = new HashMap<>();
    private final Set<String> flushing = new HashSet<>();
    private final Set<TopicPartition> paused = new HashSet<>();
    private final Thread pollThread;
    private volatile boolean running = true;
    /** Snapshots for metrics, refreshed by the poll thread (the consumer is not thread-safe). */
    private final Map<String, Long> lag = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile int inFlightNow;
    private long lagMeasuredAt;
    private long committedAt = System.nanoTime();
    private final Map<TopicPartition, TreeMap<Long, Settled>> forgettable = new HashMap<>();
    private final RecipientLedger ledger;
    // One thread, a bounded queue: a forget that does not fit is dropped, and the entry's time to live
    // removes it instead.
    private final ExecutorService forgetter = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(10_000), r -> {
                Thread t = new Thread(r, "ledger-forget");
                t.setDaemon(true);
                return t;
            }, new ThreadPoolExecutor.DiscardPolicy());
    private final List<KafkaClientMetrics> clientMetrics = new java.util.concurrent.CopyOnWriteArrayList<>();

    public DeliveryLoop(String bootstrapServers, String groupId, Topics topics, List<Duration> tiers,
            MessageDelivery delivery, AttemptRecords records, int maxInFlight, int maxRecordBytes,
            Duration shutdownGrace, String clientId, Clock clock, RetryRequests retryRequests, RecipientLedger ledger) {
        this.retryRequests = retryRequests;
        this.ledger = ledger;
        this.requestsSeen.putAll(retryRequests.current());
        this.delivery = delivery;
        this.records = records;
        this.topics = topics;
        this.maxInFlight = maxInFlight;
        this.shutdownGrace = shutdownGrace;
        this.clock = clock;
        this.subscribed = new ArrayList<>();
        subscribed.add(topics.outbound());
        tiers.forEach(t -> subscribed.add(topics.retryTier(t)));
        this.writer = new OutcomeWriter(bootstrapServers, maxRecordBytes, clientId);
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.max(1, Math.min(500, maxInFlight)));
        c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, maxRecordBytes);
        c.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Math.max(50 << 20, maxRecordBytes));
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        AtomicInteger n = new AtomicInteger();
        this.deliveryThreads = Executors.newFixedThreadPool(maxInFlight, r -> {
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
        consumer.subscribe(subscribed, new Rebalance());
        try {
            while (running) {
                long now = clock.millis();
                drainCompletions();
                noticeRetryRequests();
                applyPauses(now);
                ConsumerRecords<String, byte[]> batch = consumer.poll(POLL);
                for (TopicPartition tp : batch.partitions()) {
                    dispatch(tp, batch.records(tp), now);
                }
                commit();
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

    private void dispatch(TopicPartition tp, List<ConsumerRecord<String, byte[]>> batch, long now) {
        boolean tier = topics.isRetryTier(tp.topic());
        for (ConsumerRecord<String, byte[]> record : batch) {
            long notBefore = tier ? notBefore(record) : 0;
            Long flushEnd = flushUntil.get(tp);
            boolean flushed = flushEnd != null && record.offset() < flushEnd;
            if (flushed && record.offset() + 1 >= flushEnd) {
                flushUntil.remove(tp);
            }
            if (notBefore > now && flushed && !wanted(record)) {
                requeue(tp, record, notBefore);
                continue;
            }
            if (notBefore > now && !flushed) {
                // The head of this tier partition is not due: read it again once it is.
                consumer.seek(tp, record.offset());
                pausedUntil.put(tp, notBefore);
                return;
            }
            long epoch = tracker.started(tp, record.offset());
            deliveryThreads.execute(() -> completions.add(process(tp, record, epoch)));
        }
    }

    /**
     * A new retry-now request: every tier partition of this worker is read through to its current end,
     * and the records for the destination are delivered now.
     */
    private void noticeRetryRequests() {
        boolean fresh = false;
        for (Map.Entry<String, Long> r : retryRequests.current().entrySet()) {
            Long seen = requestsSeen.get(r.getKey());
            if (seen == null || seen < r.getValue()) {
                requestsSeen.put(r.getKey(), r.getValue());
                flushing.add(r.getKey());
                fresh = true;
                LOG.info("retrying deferred mail for {} now, as requested", r.getKey());
            }
        }
        if (!fresh) {
            if (flushUntil.isEmpty()) {
                flushing.clear();
            }
            return;
        }
        List<TopicPartition> tiers = consumer.assignment().stream().filter(tp -> topics.isRetryTier(tp.topic())).toList();
        if (tiers.isEmpty()) {
            return;
        }
        consumer.endOffsets(tiers, Duration.ofSeconds(5)).forEach((tp, end) -> {
            if (end > consumer.position(tp, Duration.ofSeconds(5))) {
                flushUntil.merge(tp, end, Math::max);
                pausedUntil.remove(tp);
            }
        });
    }

    private boolean wanted(ConsumerRecord<String, byte[]> record) {
        if (flushing.contains("*")) {
            return true;
        }
        try {
            Envelope env = RecordCodec.decode(record.value(), Envelope.class).metadata();
            return env.recipients().stream().anyMatch(r -> flushing.contains(r.domain()));
        } catch (RecordCodec.MalformedRecordException e) {
            return true; // let the delivery path log and skip it
        }
    }

    /** Puts a not-yet-due record back at the end of its tier, unchanged, while a flush reads past it. */
    private void requeue(TopicPartition tp, ConsumerRecord<String, byte[]> record, long notBefore) {
        long epoch = tracker.started(tp, record.offset());
        writer.send(tp.topic(), record.key(), record.value(), notBefore)
                .whenComplete((ok, e) -> completions.add(new Completion(tp, record.offset(), epoch, e == null)));
    }

    /** Runs on a delivery thread; durable when the record's outcome is. */
    private Completion process(TopicPartition tp, ConsumerRecord<String, byte[]> record, long epoch) {
        RecordCodec.Decoded<Envelope> d;
        try {
            d = RecordCodec.decode(record.value(), Envelope.class);
        } catch (RecordCodec.MalformedRecordException e) {
            LOG.error("skipping unreadable record {}-{}@{} (key {}): {}", record.topic(), record.partition(),
                    record.offset(), record.key(), e.getMessage());
            return new Completion(tp, record.offset(), epoch, true);
        }
        Envelope env = d.metadata();
        List<Verdict> verdicts = null;
        boolean written = false;
        try {
            long started = clock.millis();
            verdicts = delivery.deliver(env, d.value(), d.messageOffset(), d.messageLength());
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (AttemptRecords.Write w : records.of(env, d.value(), d.messageOffset(), d.messageLength(), verdicts,
                    started, clock.millis())) {
                acks.add(writer.send(w.topic(), w.key(), w.value(), w.notBeforeMillis()));
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
            written = true;
            // Their bounce requests are durable now: a record read again must not ask for them twice.
            delivery.bounceRecorded(env, verdicts, true);
            List<String> settled = verdicts.stream().filter(v -> v instanceof Verdict.Delivered || v instanceof Verdict.Failed)
                    .map(Verdict::recipient).toList();
            return new Completion(tp, record.offset(), epoch, true, settled.isEmpty() ? null : new Settled(env.queueId(), settled));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("{}: attempt interrupted by shutdown; it will be read again", env.queueId());
            return new Completion(tp, record.offset(), epoch, false);
        } catch (RuntimeException e) {
            LOG.warn("{}: outcome not recorded ({}); the message will be read again", env.queueId(), e.toString());
            return new Completion(tp, record.offset(), epoch, false);
        } finally {
            if (verdicts != null && !written) {
                delivery.bounceRecorded(env, verdicts, false); // give the claims up; the record is read again
            }
        }
    }

    private void drainCompletions() {
        Completion c;
        while ((c = completions.poll()) != null) {
            if (c.durable()) {
                // A stale completion (from before a rewind or a revocation) must not make the ledger
                // forget: the record it was for is being read again and asks the ledger.
                if (tracker.finished(c.tp(), c.offset(), c.epoch()) && c.settled() != null) {
                    forgettable.computeIfAbsent(c.tp(), k -> new TreeMap<>()).put(c.offset(), c.settled());
                }
            } else if (consumer.assignment().contains(c.tp())) {
                tracker.rewind(c.tp(), c.offset());
                consumer.seek(c.tp(), c.offset());
                pausedUntil.put(c.tp(), clock.millis() + OUTCOME_RETRY_PAUSE.toMillis());
            }
        }
    }

    /** Pauses exactly the partitions that are not due or held back, and resumes the rest. */
    private void applyPauses(long now) {
        pausedUntil.values().removeIf(until -> until <= now);
        Set<TopicPartition> assigned = consumer.assignment();
        Set<TopicPartition> want = new HashSet<>(pausedUntil.keySet());
        if (tracker.inFlight() >= maxInFlight) {
            want.addAll(assigned);
        }
        want.retainAll(assigned);
        Set<TopicPartition> toPause = new HashSet<>(want);
        toPause.removeAll(paused);
        Set<TopicPartition> toResume = new HashSet<>(paused);
        toResume.removeAll(want);
        toResume.retainAll(assigned);
        if (!toPause.isEmpty()) {
            consumer.pause(toPause);
        }
        if (!toResume.isEmpty()) {
            consumer.resume(toResume);
        }
        paused.clear();
        paused.addAll(want);
    }

    /** Records not yet read on this worker's partitions, per topic, from the consumer's own fetch positions. */
    private void measure(long now) {
        inFlightNow = tracker.inFlight();
        if (now - lagMeasuredAt < LAG_INTERVAL.toMillis()) {
            return;
        }
        lagMeasuredAt = now;
        Map<String, Long> sums = new HashMap<>();
        subscribed.forEach(t -> sums.put(t, 0L));
        for (TopicPartition tp : consumer.assignment()) {
            consumer.currentLag(tp).ifPresent(l -> sums.merge(tp.topic(), l, Long::sum));
        }
        lag.putAll(sums);
    }

    /** Per subscribed topic (full name), the records not yet read on this worker's partitions. */
    public Map<String, Long> lag() {
        return lag;
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

    /** Records being worked on now. */
    public int inFlight() {
        return inFlightNow;
    }

    private void commit() {
        long t = System.nanoTime();
        if (t - committedAt < COMMIT_INTERVAL_NANOS) {
            return;
        }
        committedAt = t;
        var offsets = tracker.committable();
        if (!offsets.isEmpty()) {
            consumer.commitAsync(offsets, (o, e) -> {
                if (e != null) {
                    LOG.warn("offset commit failed ({}); it is tried again", e.toString());
                } else {
                    tracker.committed(o);
                    forgetCommitted(o);
                }
            });
        }
    }

    /**
     * A committed record is never read again, so the ledger no longer needs its delivered recipients:
     * forgetting them keeps the ledger as small as the uncommitted window instead of growing with
     * every message (its TTL is only the backstop for a worker that dies before it forgets).
     */
    private void forgetCommitted(Map<TopicPartition, OffsetAndMetadata> committed) {
        committed.forEach((tp, o) -> {
            TreeMap<Long, Settled> m = forgettable.get(tp);
            if (m == null) {
                return;
            }
            var done = m.headMap(o.offset(), false);
            if (!done.isEmpty()) {
                // Off the poll thread: it dispatches every record, and a cluster call per recipient here
                // held deliveries back.
                List<Settled> batch = new ArrayList<>(done.values());
                forgetter.execute(() -> batch.forEach(d -> d.recipients().forEach(r -> ledger.forget(d.queueId(), r))));
                done.clear();
            }
        });
    }

    private static final Duration LAG_INTERVAL = Duration.ofSeconds(5);

    private static long notBefore(ConsumerRecord<String, byte[]> record) {
        Header h = record.headers().lastHeader(RecordHeaders.NOT_BEFORE);
        if (h == null) {
            return 0;
        }
        try {
            return Long.parseLong(new String(h.value(), StandardCharsets.US_ASCII));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            drainCompletions();
            var offsets = tracker.committable();
            offsets.keySet().retainAll(partitions);
            if (!offsets.isEmpty()) {
                try {
                    consumer.commitSync(offsets);
                    tracker.committed(offsets);
                    forgetCommitted(offsets);
                } catch (RuntimeException e) {
                    LOG.warn("commit on revocation failed ({}); the new owner will repeat some records", e.toString());
                }
            }
            partitions.forEach(tp -> {
                tracker.forget(tp);
                forgettable.remove(tp);
                pausedUntil.remove(tp);
                paused.remove(tp);
                flushUntil.remove(tp);
            });
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            // Nothing to restore: offsets come from the group, holds are recomputed by the loop.
        }
    }

    /** Stops fetching, lets running deliveries finish within the grace period, commits, leaves the group. */
    private void finishAndClose() {
        deliveryThreads.shutdown();
        try {
            if (!deliveryThreads.awaitTermination(shutdownGrace.toMillis(), TimeUnit.MILLISECONDS)) {
                deliveryThreads.shutdownNow();
            }
        } catch (InterruptedException e) {
            deliveryThreads.shutdownNow();
            Thread.currentThread().interrupt();
        }
        try {
            drainCompletions();
            var offsets = tracker.committable();
            if (!offsets.isEmpty()) {
                consumer.commitSync(offsets);
                tracker.committed(offsets);
                forgetCommitted(offsets);
            }
        } catch (RuntimeException e) {
            LOG.warn("final commit failed ({}); some records will be delivered again", e.toString());
        } finally {
            forgetter.shutdown();
            consumer.close();
            writer.close();
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            pollThread.join(shutdownGrace.toMillis() + 30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        clientMetrics.forEach(KafkaClientMetrics::close);
    }
}
