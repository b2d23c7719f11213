package net.mailrelay.bounce.queue;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.bounce.dsn.Dsn;
import net.mailrelay.bounce.dsn.DsnComposer;
import net.mailrelay.bounce.dsn.DsnEnvelope;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.OffsetTracker;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Refusals;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.protocol.smtp.ReplyText;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounce service's queue loop: reads bounce requests, composes each notification and hands it to
 * the {@link DsnProducer}, and commits a request's offset only once the notifications of it and of
 * everything before it are acknowledged ({@link OffsetTracker}, shared with the delivery worker). A
 * notification the broker refuses is sent again, the same one, after a pause that doubles each time (5 s
 * up to a minute), its partition paused meanwhile; nothing else of the partition is read again. One the
 * broker has not answered is left to the producer, which never gives up on it (a second send could be a
 * second DSN). The poll thread never sleeps, and waits on acks only at a revocation or a stop (10 s).
 */
public final class BounceConsumer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BounceConsumer.class);

    static final String GROUP_ID = "mail-relay-bounce";
    static final Duration RETRY_PAUSE = Duration.ofSeconds(5);
    /** The diagnostic each recipient keeps in a notification sent without content. */
    private static final int SHORT_DIAGNOSTIC = 256;
    private static final Duration MAX_RETRY_PAUSE = Duration.ofMinutes(1);
    private static final Duration POLL = Duration.ofMillis(250);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
    /** How long a revocation or a stop waits for notifications in flight to be acknowledged. */
    private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(10);

    /** A notification being produced, with what it takes to send it again. */
    private static final class Pending {
        final TopicPartition partition;
        final long offset;
        final long token;
        final Envelope envelope;
        final Dsn dsn;
        final QueueId queueId;
        /** The request it answers, to compose a smaller one should the broker refuse it for good. */
        final RecordCodec.Decoded<BounceRequest> request;
        /** How many notifications for this request the broker refused for good before this one. */
        final int refusals;
        int failures;
        long dueMillis;

        Pending(TopicPartition partition, long offset, long token, Envelope envelope, Dsn dsn, QueueId queueId,
                RecordCodec.Decoded<BounceRequest> request, int refusals) {
            this.partition = partition;
            this.offset = offset;
            this.token = token;
            this.envelope = envelope;
            this.dsn = dsn;
            this.queueId = queueId;
            this.request = request;
            this.refusals = refusals;
        }
    }

    /** The producer's answer for one notification; {@code error} null when it is acknowledged. */
    private record Ack(Pending pending, Throwable error) {
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final DsnProducer producer;
    private final DsnComposer composer;
    private final String topic;
    private final String hostname;
    private final Clock clock;
    private final OffsetTracker<TopicPartition> tracker = new OffsetTracker<>();
    private final java.util.Queue<Ack> acks = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Notifications sent and not yet answered. */
    private final Map<Pending, CompletableFuture<Void>> sending = new HashMap<>();
    /** Notifications waiting to be sent again, their partitions paused. */
    private final List<Pending> waiting = new ArrayList<>();
    private final Thread thread;
    private final Map<Dsn.Kind, Counter> sent = new java.util.EnumMap<>(Dsn.Kind.class);
    private final Counter dropped;
    private final List<KafkaClientMetrics> clientMetrics = new ArrayList<>();
    /** Bounce requests not yet read on this process's partitions, refreshed by the loop thread. */
    private volatile long lag;
    private long lagMeasuredAt;
    private volatile boolean running = true;
    private volatile boolean started;

    /** @param registry where the DSNs sent, the lag and the Kafka clients' metrics are counted (docs/metrics.md) */
    /** @param groupInstanceId the consumer's static group membership, or null (see BounceService.Config) */
    public BounceConsumer(KafkaAccess kafka, Topics topics, int maxRecordBytes, String hostname, String groupInstanceId,
            DsnComposer composer, Clock clock, MeterRegistry registry) {
        this.topic = topics.bounce();
        this.hostname = hostname;
        this.composer = composer;
        this.clock = clock;
        this.producer = new DsnProducer(kafka, topics.outbound(), maxRecordBytes, "bounce-" + hostname);
        try {
            this.consumer = new KafkaConsumer<>(
                    config(kafka, topics.prefix() + GROUP_ID, maxRecordBytes, "bounce-" + hostname, groupInstanceId),
                    new StringDeserializer(), new ByteArrayDeserializer());
        } catch (KafkaException e) {
            producer.close();
            throw e;
        }
        this.thread = new Thread(this::run, "bounce-consumer");
        for (Dsn.Kind k : Dsn.Kind.values()) {
            String type = switch (k) {
                case NON_DELIVERY -> "failure";
                case DELAY -> "delay";
                case SUCCESS -> "success";
            };
            sent.put(k, Counter.builder("mailrelay.dsn.sent").description("DSNs published for delivery")
                    .tag("type", type).register(registry));
        }
        dropped = Counter.builder("mailrelay.dsn.dropped")
                .description("Notifications the broker refused for good, even without content: not sent").register(registry);
        Gauge.builder("mailrelay.queue.lag", this, c -> c.lag).description("Bounce requests not yet read")
                .tag("topic", "mail.bounce").register(registry);
        clientMetrics.add(new KafkaClientMetrics(consumer));
        clientMetrics.add(new KafkaClientMetrics(producer.producer()));
        clientMetrics.forEach(m -> m.bindTo(registry));
    }

    static Map<String, Object> config(KafkaAccess kafka, String groupId, int maxRecordBytes, String clientId,
            String groupInstanceId) {
        Map<String, Object> c = new HashMap<>();
        if (groupInstanceId != null) {
            c.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, groupInstanceId);
        }
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        // Each send may block up to the producer's max.block.ms when Kafka is unwell; keep a batch well
        // inside max.poll.interval.ms even then.
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 20);
        // A request carries the original message, up to the largest record the relay allows.
        return kafka.consumer(clientId, maxRecordBytes, c);
    }

    public void start() {
        started = true;
        thread.start();
    }

    private void run() {
        try {
            consumer.subscribe(List.of(topic), new Rebalance());
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(POLL)) {
                    dispatch(record);
                }
                settle();
                resumeDue();
                measureLag();
            }
        } catch (WakeupException e) {
            // close() asked us to stop.
        } catch (RuntimeException e) {
            LOG.error("bounce consumer on {} stopped", topic, e);
        } finally {
            finish();
        }
    }

    private void dispatch(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        long token = tracker.started(partition, record.offset());
        RecordCodec.Decoded<BounceRequest> decoded;
        try {
            decoded = RecordCodec.decode(record.value(), BounceRequest.class);
        } catch (RecordCodec.MalformedRecordException e) {
            // Reading it again cannot help; commit past it so it does not block the partition forever.
            LOG.error("{}: malformed bounce request at {}-{} offset {}, skipped: {}", record.key(), record.topic(),
                    record.partition(), record.offset(), e.getMessage());
            tracker.finished(partition, record.offset(), token);
            return;
        }
        BounceRequest request = decoded.metadata();
        QueueId queueId = request.envelope().queueId();
        if (request.envelope().hasNullReversePath()) {
            LOG.info("{}: sender is the null reverse path, no notification", queueId);
            tracker.finished(partition, record.offset(), token);
            return;
        }
        QueueId dsnId = QueueId.next(clock.millis());
        Optional<Dsn> dsn;
        Envelope envelope;
        try {
            dsn = composer.compose(request, decoded.value(), decoded.messageOffset(), decoded.messageLength(), dsnId);
            envelope = dsn.map(d -> DsnEnvelope.of(request.envelope(), d, dsnId, hostname, clock.millis())).orElse(null);
        } catch (RuntimeException e) {
            // Composing is a pure function of the record: a retry would fail the same way.
            LOG.error("{}: cannot compose a notification, request skipped", queueId, e);
            tracker.finished(partition, record.offset(), token);
            return;
        }
        if (dsn.isEmpty()) {
            LOG.info("{}: no reported recipient asked for a notification", queueId);
            tracker.finished(partition, record.offset(), token);
            return;
        }
        send(new Pending(partition, record.offset(), token, envelope, dsn.get(), queueId, decoded, 0));
    }

    /**
     * A smaller notification for one the broker refused for good (larger than the topic takes): first
     * with the original's headers only, then with no content and short diagnostics. Sending the same
     * one again waited for ever, with its partition paused. Empty when there is nothing smaller.
     */
    private Optional<Pending> smaller(Pending p) {
        BounceRequest request = p.request.metadata();
        BounceRequest instead;
        int length;
        if (p.refusals == 0) {
            instead = new BounceRequest(request.envelope().returningHeaders(), request.reports(), request.reportingMta());
            length = p.request.messageLength();
        } else if (p.refusals == 1) {
            instead = new BounceRequest(request.envelope().returningHeaders(), request.reports().stream()
                    .map(r -> new RecipientReport(r.recipient(), r.action(), r.status(), r.remoteMta(),
                            ReplyText.bounded(r.diagnostic(), SHORT_DIAGNOSTIC), r.lastAttemptMillis(),
                            r.willRetryUntilMillis(), r.failureClass())).toList(), request.reportingMta());
            length = 0;
        } else {
            return Optional.empty();
        }
        QueueId dsnId = p.envelope.queueId();
        try {
            Optional<Dsn> dsn = composer.compose(instead, p.request.value(), p.request.messageOffset(), length, dsnId);
            if (dsn.isEmpty() || dsn.get().message().length >= p.dsn.message().length) {
                return Optional.empty();
            }
            Envelope envelope = DsnEnvelope.of(instead.envelope(), dsn.get(), dsnId, hostname, clock.millis());
            return Optional.of(new Pending(p.partition, p.offset, p.token, envelope, dsn.get(), p.queueId, p.request,
                    p.refusals + 1));
        } catch (RuntimeException e) {
            LOG.error("{}: cannot compose a smaller notification", p.queueId, e);
            return Optional.empty();
        }
    }

    private void send(Pending p) {
        CompletableFuture<Void> acked = producer.send(p.envelope, p.dsn);
        sending.put(p, acked);
        acked.whenComplete((ok, error) -> acks.add(new Ack(p, error)));
    }

    /**
     * Waits, up to {@code bound}, for the answers to what was sent from these partitions (all when null),
     * then takes them in. The producer itself never gives up, so during an outage this is what bounds a
     * revocation or a stop; what is still unanswered is sent again by the partition's next owner.
     */
    private void awaitSending(Collection<TopicPartition> partitions, Duration bound) {
        CompletableFuture<?>[] waiting = sending.entrySet().stream()
                .filter(e -> partitions == null || partitions.contains(e.getKey().partition))
                .map(Map.Entry::getValue).toArray(CompletableFuture[]::new);
        try {
            CompletableFuture.allOf(waiting).get(bound.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            // A refusal: settle() takes it in as one.
        } catch (TimeoutException e) {
            LOG.warn("{} notifications not acknowledged within {}; the next owner sends them again", waiting.length, bound);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        settle();
    }

    private void measureLag() {
        long now = clock.millis();
        if (now - lagMeasuredAt < 5_000) {
            return;
        }
        lagMeasuredAt = now;
        long sum = 0;
        for (TopicPartition tp : consumer.assignment()) {
            sum += consumer.currentLag(tp).orElse(0);
        }
        lag = sum;
    }

    /**
     * Takes in the producer's answers: an acknowledged notification finishes its record, a failed one
     * waits to be sent again with its partition paused. Then commits what may be committed.
     */
    private void settle() {
        long now = clock.millis();
        Ack a;
        while ((a = acks.poll()) != null) {
            Pending p = a.pending();
            sending.remove(p);
            String label = p.dsn.kind().logLabel();
            if (a.error() == null) {
                sent.get(p.dsn.kind()).increment();
                LOG.info("{}: {}: {}", p.queueId, label, p.envelope.queueId());
                tracker.finished(p.partition, p.offset, p.token);
            } else if (Refusals.permanent(a.error()) && tracker.current(p.partition, p.offset, p.token)) {
                Optional<Pending> instead = smaller(p);
                if (instead.isPresent()) {
                    LOG.warn("{}: {} {} refused by the queue ({}); sent again {}", p.queueId, label, p.envelope.queueId(),
                            a.error().toString(), p.refusals == 0 ? "with the original's headers only" : "without content");
                    send(instead.get());
                } else {
                    dropped.increment();
                    LOG.error("{}: {} {} refused by the queue for good ({}); no notification is sent", p.queueId, label,
                            p.envelope.queueId(), a.error().toString());
                    tracker.finished(p.partition, p.offset, p.token);
                }
            } else if (tracker.current(p.partition, p.offset, p.token)) {
                long pause = RETRY_PAUSE.toMillis() << Math.min(p.failures, 4);
                p.failures++;
                p.dueMillis = now + Math.min(pause, MAX_RETRY_PAUSE.toMillis());
                waiting.add(p);
                consumer.pause(Set.of(p.partition));
                LOG.warn("{}: {} {} not queued ({}); sent again in {} s", p.queueId, label, p.envelope.queueId(),
                        a.error().toString(), (p.dueMillis - now) / 1000);
            }
        }
        Map<TopicPartition, OffsetAndMetadata> commits = committable(null);
        if (!commits.isEmpty()) {
            consumer.commitAsync(commits, (offsets, error) -> {
                if (error != null) {
                    // Offered again with the next settle; at worst a restart repeats some notifications.
                    LOG.warn("committing {} failed: {}", offsets, error.toString());
                } else {
                    Map<TopicPartition, Long> done = new HashMap<>();
                    offsets.forEach((tp, o) -> done.put(tp, o.offset()));
                    tracker.committed(done);
                }
            });
        }
    }

    private Map<TopicPartition, OffsetAndMetadata> committable(Collection<TopicPartition> partitions) {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        tracker.committable().forEach((tp, o) -> {
            if (partitions == null || partitions.contains(tp)) {
                out.put(tp, new OffsetAndMetadata(o));
            }
        });
        return out;
    }

    /** Sends again what is due; a partition with nothing left waiting is read again. */
    private void resumeDue() {
        long now = clock.millis();
        List<Pending> due = new ArrayList<>();
        waiting.removeIf(p -> p.dueMillis <= now && due.add(p));
        for (Pending p : due) {
            send(p);
            if (waiting.stream().noneMatch(w -> w.partition.equals(p.partition))) {
                consumer.resume(Set.of(p.partition));
            }
        }
    }

    /** On the loop thread as it ends: wait for outstanding acks, commit what they allow, leave the group. */
    private void finish() {
        try {
            awaitSending(null, SETTLE_TIMEOUT);
            commitSync(committable(null));
        } finally {
            consumer.close(CLOSE_TIMEOUT);
        }
    }

    private void commitSync(Map<TopicPartition, OffsetAndMetadata> commits) {
        if (commits.isEmpty()) {
            return;
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                consumer.commitSync(commits);
                return;
            } catch (WakeupException e) {
                // A wakeup from close() that arrived after the last poll; the next try goes through.
            } catch (KafkaException e) {
                LOG.warn("committing {} failed, the next owner repeats those notifications: {}", commits, e.toString());
                return;
            }
        }
    }

    /** Stops the loop, which commits and closes the consumer; then closes the producer. */
    @Override
    public void close() {
        clientMetrics.forEach(KafkaClientMetrics::close);
        running = false;
        if (!started) {
            consumer.close(CLOSE_TIMEOUT);
            producer.close();
            return;
        }
        consumer.wakeup();
        try {
            thread.join(CLOSE_TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("bounce consumer did not stop within {}", CLOSE_TIMEOUT);
        }
        producer.close();
    }

    private final class Rebalance implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            // The next owner starts from our last commit: let what is in flight finish so it need not repeat it.
            awaitSending(partitions, SETTLE_TIMEOUT);
            commitSync(committable(partitions));
            forget(partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            forget(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        }

        private void forget(Collection<TopicPartition> partitions) {
            partitions.forEach(tracker::forget);
            waiting.removeIf(p -> partitions.contains(p.partition));
            sending.keySet().removeIf(p -> partitions.contains(p.partition));
        }
    }
}
