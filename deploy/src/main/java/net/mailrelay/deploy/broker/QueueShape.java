package net.mailrelay.deploy.broker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The queue's shape, as Postfix's qshape and KumoMTA's {@code kcli queue-summary} show it: for every
 * topic the workers and the bounce service consume, how far their group is behind (lag), how long the
 * oldest unconsumed record has waited, and for mail topics the recipients waiting per destination by
 * message age, in qshape's buckets.
 *
 * <p>It reads outside any group, from each partition's committed offset to the end it had when the call
 * began. Mail travels in the records, so this moves message bytes: the scan stops after
 * {@code scanLimit} records (and after a minute) and says it was truncated, rather than read a queue of
 * millions. Lag and the oldest record are exact either way; only the per-destination counts are cut.
 */
public final class QueueShape {

    /** qshape's default age buckets: up to 5 minutes, up to 10, ..., up to 1280, and older. */
    public static final List<Integer> BUCKET_MINUTES = List.of(5, 10, 20, 40, 80, 160, 320, 640, 1280);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration SCAN_TIME = Duration.ofSeconds(60);

    /** Recipients waiting for one destination; {@code buckets} has one more entry than BUCKET_MINUTES. */
    public record Destination(String destination, long recipients, List<Long> buckets) {
    }

    /** One topic: {@code kind} is outbound, retry or bounce; the age is null when nothing waits. */
    public record TopicQueue(String topic, String kind, String group, long lag, Long oldestAgeSeconds, String oldestQueueId,
            long recipients, List<Destination> destinations) {
    }

    public record Summary(long generatedAtMillis, List<Integer> bucketMinutes, int scanLimit, long scanned, boolean truncated,
            List<TopicQueue> topics) {
    }

    private final KafkaAccess kafka;
    private final Topics topics;
    private final List<Duration> tiers;
    private final String workerGroup;
    private final String bounceGroup;

    public QueueShape(KafkaAccess kafka, Topics topics, List<Duration> tiers, String workerGroup, String bounceGroup) {
        this.kafka = kafka;
        this.topics = topics;
        this.tiers = List.copyOf(tiers);
        this.workerGroup = workerGroup;
        this.bounceGroup = bounceGroup;
    }

    public Summary summary(int scanLimit) {
        long now = System.currentTimeMillis();
        Map<String, String> kinds = new LinkedHashMap<>();
        kinds.put(topics.outbound(), "outbound");
        tiers.stream().sorted().forEach(t -> kinds.put(topics.retryTier(t), "retry"));
        kinds.put(topics.bounce(), "bounce");
        try (Admin admin = Admin.create(kafka.config());
                KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(kafka.consumer(null, 1 << 20, Map.of()), new StringDeserializer(), new ByteArrayDeserializer())) {
            Map<TopicPartition, OffsetAndMetadata> committed = new HashMap<>(committed(admin, workerGroup));
            committed.putAll(committed(admin, bounceGroup));
            List<TopicPartition> all = new ArrayList<>();
            for (String topic : kinds.keySet()) {
                consumer.partitionsFor(topic, TIMEOUT).forEach(p -> all.add(new TopicPartition(topic, p.partition())));
            }
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(all, TIMEOUT);
            Map<TopicPartition, Long> end = consumer.endOffsets(all, TIMEOUT);
            Map<TopicPartition, Long> start = new HashMap<>();
            for (TopicPartition tp : all) {
                // No committed offset: the group starts at the beginning (auto.offset.reset=earliest).
                OffsetAndMetadata c = committed.get(tp);
                start.put(tp, Math.max(begin.get(tp), c == null ? 0 : c.offset()));
            }
            Scan scan = new Scan(kinds, end, scanLimit, now);
            scan.run(consumer, start);
            List<TopicQueue> out = new ArrayList<>();
            kinds.forEach((topic, kind) -> out.add(scan.result(topic, kind, kind.equals("bounce") ? bounceGroup : workerGroup,
                    all.stream().filter(tp -> tp.topic().equals(topic)).mapToLong(tp -> end.get(tp) - start.get(tp)).sum())));
            return new Summary(now, BUCKET_MINUTES, scanLimit, scan.scanned, scan.truncated, out);
        }
    }

    private static Map<TopicPartition, OffsetAndMetadata> committed(Admin admin, String group) {
        try {
            Map<TopicPartition, OffsetAndMetadata> m = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                    .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
            m.forEach((tp, o) -> {
                if (o != null) {
                    out.put(tp, o);
                }
            });
            return out;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) {
                return Map.of(); // the group has never committed: everything is waiting
            }
            throw new IllegalStateException("could not read the offsets of group " + group + ": " + e.getCause(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not give the offsets of group " + group + " within " + TIMEOUT, e);
        }
    }

    /** One pass over the unconsumed records: the head of each partition, and envelopes up to the limit. */
    private static final class Scan {
        final Map<String, String> kinds;
        final Map<TopicPartition, Long> end;
        final int limit;
        final long now;
        final Set<TopicPartition> headSeen = new HashSet<>();
        final Map<String, ConsumerRecord<String, byte[]>> oldest = new HashMap<>();
        final Map<String, Map<String, long[]>> counts = new HashMap<>();
        long scanned;
        boolean truncated;

        Scan(Map<String, String> kinds, Map<TopicPartition, Long> end, int limit, long now) {
            this.kinds = kinds;
            this.end = end;
            this.limit = limit;
            this.now = now;
        }

        void run(KafkaConsumer<String, byte[]> consumer, Map<TopicPartition, Long> start) {
            Set<TopicPartition> open = new HashSet<>();
            start.forEach((tp, s) -> {
                if (s < end.get(tp)) {
                    open.add(tp);
                }
            });
            consumer.assign(open);
            open.forEach(tp -> consumer.seek(tp, start.get(tp)));
            long deadline = System.currentTimeMillis() + SCAN_TIME.toMillis();
            while (!open.isEmpty()) {
                if (System.currentTimeMillis() > deadline) {
                    truncated = true;
                    return;
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (open.contains(tp) && r.offset() < end.get(tp)) {
                        take(tp, r);
                    }
                }
                close(consumer, open);
            }
        }

        private void take(TopicPartition tp, ConsumerRecord<String, byte[]> r) {
            if (headSeen.add(tp)) {
                oldest.merge(r.topic(), r, (a, b) -> b.timestamp() < a.timestamp() ? b : a);
            }
            if (kinds.get(r.topic()).equals("bounce")) {
                return;
            }
            if (scanned >= limit) {
                truncated = true;
                return;
            }
            scanned++;
            Envelope env;
            try {
                env = RecordCodec.decode(r.value(), Envelope.class).metadata();
            } catch (RecordCodec.MalformedRecordException e) {
                return; // the workers log and skip it too
            }
            int bucket = bucket(now - env.arrivedAtMillis());
            Map<String, long[]> byDestination = counts.computeIfAbsent(r.topic(), t -> new HashMap<>());
            for (Recipient rcpt : env.recipients()) {
                byDestination.computeIfAbsent(rcpt.domain(), d -> new long[BUCKET_MINUTES.size() + 1])[bucket]++;
            }
        }

        /** Stops reading a partition at its end, or once its head is known when nothing more is to be counted. */
        private void close(KafkaConsumer<String, byte[]> consumer, Set<TopicPartition> open) {
            for (Iterator<TopicPartition> it = open.iterator(); it.hasNext();) {
                TopicPartition tp = it.next();
                boolean atEnd = consumer.position(tp) >= end.get(tp);
                boolean headOnly = kinds.get(tp.topic()).equals("bounce") || scanned >= limit;
                if (atEnd || headSeen.contains(tp) && headOnly) {
                    truncated |= !atEnd && !kinds.get(tp.topic()).equals("bounce");
                    consumer.pause(Set.of(tp));
                    it.remove();
                }
            }
        }

        TopicQueue result(String topic, String kind, String group, long lag) {
            ConsumerRecord<String, byte[]> head = oldest.get(topic);
            List<Destination> destinations = new ArrayList<>();
            counts.getOrDefault(topic, Map.of()).forEach((d, b) -> destinations.add(
                    new Destination(d, java.util.Arrays.stream(b).sum(), java.util.Arrays.stream(b).boxed().toList())));
            destinations.sort(Comparator.comparingLong(Destination::recipients).reversed().thenComparing(Destination::destination));
            return new TopicQueue(topic, kind, group, lag, head == null ? null : Math.max(0, (now - head.timestamp()) / 1000),
                    head == null ? null : head.key(), destinations.stream().mapToLong(Destination::recipients).sum(), destinations);
        }

        static int bucket(long ageMillis) {
            long minutes = ageMillis / 60_000;
            for (int i = 0; i < BUCKET_MINUTES.size(); i++) {
                if (minutes < BUCKET_MINUTES.get(i)) {
                    return i;
                }
            }
            return BUCKET_MINUTES.size();
        }
    }
}
