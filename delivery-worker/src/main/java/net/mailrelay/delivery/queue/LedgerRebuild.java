package net.mailrelay.delivery.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.BiConsumer;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds the delivered-recipients ledger of some queue partitions from the delivery log, after the
 * ledger was lost with every Hazelcast member (a standalone crash, a full restart, a rollout that
 * replaced every pod at once). The outcome of each delivery is on {@code mail.events} before its
 * record's offset is committed, so every recipient delivered from a record that will be read again has
 * its DELIVERED event there.
 *
 * <ol>
 * <li>The records that will be read again, from the committed offset to the end, give the queue ids to
 * look for (their keys; the bodies are not kept) and a horizon: no delivery of them began before the
 * time the last commit carries ({@link Commits}), nor before the oldest record was written. The horizon
 * is moved back by a margin for the clocks of different hosts.
 * <li>The delivery log is read from the horizon (found with its time index) to its end, and each
 * DELIVERED event of one of those queue ids goes back into the ledger. So is the bounce topic, and each
 * recipient a bounce request of one of them reports as failed goes back as bounced: a recipient is
 * marked bounced only once its request is durable, so the request on the log is the mark's own proof
 * (its FAILED event is written beside it, not before it, and cannot vouch for it).
 * </ol>
 *
 * <p>Bounded: at most {@code maxRecords} records are read from the queue partitions, and as many from
 * the delivery log and from the bounce topic (their most recent ones when there are more), and the
 * whole rebuild stops after {@link #DEADLINE}. Beyond that it goes ahead and says that duplicates are
 * possible. A failed recipient of a sender with the null reverse path has no bounce request and is not
 * restored: it is tried once more, and fails again without a DSN.
 */
public final class LedgerRebuild {

    private static final Logger LOG = LoggerFactory.getLogger(LedgerRebuild.class);
    /** Beyond this the rebuild goes ahead with what it has: its partitions wait on it (Coverage). */
    static final Duration DEADLINE = Duration.ofMinutes(2);
    private static final Duration POLL = Duration.ofMillis(200);

    /** Where a queue partition will be read again from, and to where it has records now. */
    record Start(long from, long end, OptionalLong mark) {
    }

    /**
     * @param margin how far before the horizon the delivery log is read, for the clocks of different hosts
     * @param maxRecords the most records read from the queue partitions, and from the delivery log
     * @param copyLead how long before a retry copy was written its recipients may have been delivered by
     *     another reading of the message (the claim lease: the claim that made its reader queue the copy)
     */
    public record Limits(Duration margin, int maxRecords, Observer observer, Duration copyLead) {
        public Limits {
            if (maxRecords < 1) {
                throw new IllegalArgumentException("the ledger rebuild must read at least 1 record, not " + maxRecords);
            }
            copyLead = copyLead == null ? Duration.ZERO : copyLead;
        }

        public Limits(Duration margin, int maxRecords, Observer observer) {
            this(margin, maxRecords, observer, Duration.ZERO);
        }
    }

    /** What a rebuild did. */
    public record Result(int entries, long queueRecords, long events, Duration took, boolean capped) {
    }

    /** Told of each rebuild, for the metrics. */
    public interface Observer {
        Observer NONE = r -> {
        };

        void rebuilt(Result result);
    }

    private final KafkaAccess kafka;
    private final String clientId;
    private final int maxRecordBytes;
    private final String eventsTopic;
    private final String bounceTopic;
    private final RecipientLedger ledger;
    private final Duration margin;
    private final int maxRecords;
    private final Observer observer;
    private final Duration copyLead;
    private final String outboundTopic;

    /** @param outboundTopic the queue's first topic; every other queue partition (a retry tier) holds copies */
    LedgerRebuild(KafkaAccess kafka, String clientId, int maxRecordBytes, String outboundTopic, String eventsTopic,
            String bounceTopic, RecipientLedger ledger, Limits limits) {
        this.outboundTopic = outboundTopic;
        this.copyLead = limits.copyLead();
        this.kafka = kafka;
        this.clientId = clientId;
        this.maxRecordBytes = maxRecordBytes;
        this.eventsTopic = eventsTopic;
        this.bounceTopic = bounceTopic;
        this.ledger = ledger;
        this.margin = limits.margin();
        this.maxRecords = limits.maxRecords();
        this.observer = limits.observer();
    }

    /** Rebuilds the ledger for these partitions; throws when Kafka or the ledger cannot be read or written. */
    Result rebuild(Map<TopicPartition, Start> partitions) {
        long t0 = System.nanoTime();
        long deadline = t0 + DEADLINE.toNanos();
        Set<String> ids = new HashSet<>();
        long[] horizon = {Long.MAX_VALUE};
        long queueRecords;
        long events = 0;
        boolean capped;
        List<RecipientLedger.Entry> found = new ArrayList<>();
        try (KafkaConsumer<String, Object> queue = consumer(maxRecordBytes, (topic, data) -> null)) {
            Map<TopicPartition, Start> reading = new HashMap<>();
            partitions.forEach((tp, s) -> {
                if (s.from() < s.end()) {
                    reading.put(tp, s);
                }
            });
            Scan scan = scanQueue(queue, reading, ids, horizon, deadline);
            queueRecords = scan.read;
            capped = scan.capped;
        }
        if (!ids.isEmpty()) {
            long from = horizon[0] - margin.toMillis();
            try (KafkaConsumer<String, byte[]> log = consumer(maxRecordBytes, new ByteArrayDeserializer())) {
                Scan scan = scanLog(log, eventsTopic, from, ids, deadline, LedgerRebuild::delivered, found);
                events = scan.read;
                capped |= scan.capped;
                scan = scanLog(log, bounceTopic, from, ids, deadline, LedgerRebuild::bounced, found);
                events += scan.read;
                capped |= scan.capped;
            }
        }
        int entries = found.isEmpty() ? 0 : ledger.restore(found);
        Result r = new Result(entries, queueRecords, events, Duration.ofNanos(System.nanoTime() - t0), capped);
        String what = "ledger rebuilt for " + partitions.size() + " queue partition(s) in " + r.took().toMillis() + " ms: "
                + r.queueRecords() + " records to be read again (" + ids.size() + " messages), " + r.events()
                + " delivery events and bounce requests read, " + r.entries() + " settled recipients restored ("
                + found.stream().filter(e -> e.settled() == RecipientLedger.Settled.BOUNCED).map(e -> e.queueId() + " "
                        + e.recipient()).distinct().count() + " bounced)";
        if (capped) {
            LOG.warn("{}; stopped at the limit ({} records or {}), so recipients delivered before are not all known "
                    + "and duplicates are possible", what, maxRecords, DEADLINE);
        } else {
            LOG.info(what);
        }
        observer.rebuilt(r);
        return r;
    }

    private static final class Scan {
        long read;
        boolean capped;
    }

    /** Reads the queue ids and the oldest time of the records that will be read again. */
    private Scan scanQueue(KafkaConsumer<String, Object> queue, Map<TopicPartition, Start> reading, Set<String> ids,
            long[] horizon, long deadline) {
        Scan scan = new Scan();
        if (reading.isEmpty()) {
            return scan;
        }
        Map<TopicPartition, Long> oldest = new HashMap<>();
        queue.assign(reading.keySet());
        reading.forEach((tp, s) -> queue.seek(tp, s.from()));
        Set<TopicPartition> open = new HashSet<>(reading.keySet());
        while (!open.isEmpty()) {
            if (scan.read >= maxRecords || System.nanoTime() > deadline) {
                scan.capped = true;
                break;
            }
            for (ConsumerRecord<String, Object> r : queue.poll(POLL)) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                if (r.offset() < reading.get(tp).end()) {
                    scan.read++;
                    if (r.key() != null) {
                        ids.add(r.key());
                    }
                    oldest.merge(tp, r.timestamp(), Math::min);
                }
            }
            open.removeIf(tp -> queue.position(tp) >= reading.get(tp).end());
            queue.pause(reading.keySet().stream().filter(tp -> !open.contains(tp)).toList());
        }
        reading.forEach((tp, s) -> {
            long written = oldest.getOrDefault(tp, Long.MAX_VALUE);
            long h;
            if (!tp.topic().equals(outboundTopic)) {
                // A retry copy: its recipients may have been delivered by another reading of the message (the
                // original read again, or the delivery whose claim made this copy), whatever this partition's
                // mark says; a quiet tier's mark is refreshed to "now" every minute (issue 29). From a claim
                // lease before the copy was written.
                h = written == Long.MAX_VALUE ? written : written - copyLead.toMillis();
            } else {
                // Two lower bounds on when a record from here was delivered: the later one is the closer.
                h = s.mark().isPresent() ? Math.max(s.mark().getAsLong(), written == Long.MAX_VALUE ? 0 : written) : written;
            }
            horizon[0] = Math.min(horizon[0], h);
        });
        return scan;
    }

    /**
     * Reads a log keyed by queue id ({@code mail.events}, {@code mail.bounce}) from {@code fromMillis} to
     * its end; each record of one of these messages is given to {@code settled}, which adds what it proves.
     */
    private Scan scanLog(KafkaConsumer<String, byte[]> log, String topic, long fromMillis, Set<String> ids, long deadline,
            BiConsumer<byte[], List<RecipientLedger.Entry>> settled, List<RecipientLedger.Entry> found) {
        Scan scan = new Scan();
        List<TopicPartition> tps = new ArrayList<>();
        for (PartitionInfo p : log.partitionsFor(topic)) {
            tps.add(new TopicPartition(topic, p.partition()));
        }
        log.assign(tps);
        Map<TopicPartition, Long> query = new HashMap<>();
        tps.forEach(tp -> query.put(tp, Math.max(0, fromMillis)));
        Map<TopicPartition, OffsetAndTimestamp> starts = log.offsetsForTimes(query);
        Map<TopicPartition, Long> ends = log.endOffsets(tps);
        long share = Math.max(1, maxRecords / Math.max(1, tps.size()));
        Set<TopicPartition> open = new HashSet<>();
        for (TopicPartition tp : tps) {
            long end = ends.get(tp);
            OffsetAndTimestamp at = starts.get(tp);
            long start = at == null ? end : at.offset();
            if (end - start > share) {
                start = end - share; // the most recent records are those of the deliveries just before the loss
                scan.capped = true;
            }
            log.seek(tp, start);
            if (start < end) {
                open.add(tp);
            }
        }
        while (!open.isEmpty()) {
            if (System.nanoTime() > deadline) {
                scan.capped = true;
                break;
            }
            for (ConsumerRecord<String, byte[]> r : log.poll(POLL)) {
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                if (r.offset() >= ends.get(tp)) {
                    continue;
                }
                scan.read++;
                if (r.key() == null || !ids.contains(r.key())) {
                    continue; // keyed by queue id: most are skipped without being decoded
                }
                try {
                    settled.accept(r.value(), found);
                } catch (RecordCodec.MalformedRecordException ex) {
                    // not one this worker wrote: it proves nothing
                }
            }
            open.removeIf(tp -> log.position(tp) >= ends.get(tp));
            log.pause(tps.stream().filter(tp -> !open.contains(tp)).toList());
        }
        return scan;
    }

    /** A DELIVERED event: its recipient was delivered. */
    private static void delivered(byte[] value, List<RecipientLedger.Entry> found) {
        DeliveryEvent e = RecordCodec.decode(value, DeliveryEvent.class).metadata();
        if (e.outcome() == DeliveryEvent.Outcome.DELIVERED) {
            found.add(new RecipientLedger.Entry(e.queueId(), e.recipient()));
        }
    }

    /** A bounce request: each recipient it reports as failed was bounced (a delay or success report settles none). */
    private static void bounced(byte[] value, List<RecipientLedger.Entry> found) {
        BounceRequest b = RecordCodec.decode(value, BounceRequest.class).metadata();
        for (RecipientReport report : b.reports()) {
            if (report.action() == Action.FAILED) {
                found.add(new RecipientLedger.Entry(b.envelope().queueId(), report.recipient().address(),
                        RecipientLedger.Settled.BOUNCED));
            }
        }
    }

    private <V> KafkaConsumer<String, V> consumer(int maxRecordBytes, Deserializer<V> values) {
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5_000);
        c.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) Duration.ofSeconds(30).toMillis());
        return new KafkaConsumer<>(kafka.consumer(clientId + "-ledger-rebuild", maxRecordBytes, c), new StringDeserializer(), values);
    }

    /** The name the ledger's coverage marks use for a queue partition. */
    static String name(TopicPartition tp) {
        return tp.topic() + "-" + tp.partition();
    }

    static List<String> names(Collection<TopicPartition> tps) {
        return tps.stream().map(LedgerRebuild::name).toList();
    }
}
