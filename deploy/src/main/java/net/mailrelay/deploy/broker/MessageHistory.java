package net.mailrelay.deploy.broker;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Utils;

/**
 * One message's story, as {@code postqueue -p} tells it for one queue id: when it arrived, from whom,
 * and for each recipient the latest outcome on {@code mail.events}.
 *
 * <p>Every record about a message is keyed by its queue id, so on each topic one partition holds them
 * all (the producers' default partitioner: murmur2 of the key), and none is older than the message:
 * the id's first ten characters give its arrival, and {@code offsetsForTimes} finds where to start.
 * The original envelope (sender, size, every recipient) is the first record for the id on
 * {@code mail.outbound}, written within moments of the arrival.
 */
public final class MessageHistory {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** Clocks of edges, workers and brokers may disagree; start this much before the arrival. */
    private static final long SKEW_MILLIS = Duration.ofMinutes(5).toMillis();
    /** At most this many event records are read for one message (a week of a busy partition is a lot). */
    private static final int EVENT_SCAN_LIMIT = 2_000_000;

    public record RecipientStatus(String recipient, String outcome, int attempt, Long atMillis, String status, String reply,
            String remoteHost, String remoteAddress) {
    }

    /**
     * @param state deferred (some recipient waits for a retry), queued (some not yet tried), or finished
     * @param sender the reverse path ("" for the null sender), or null when the original record was not found
     */
    public record MessageStatus(String queueId, long arrivedAtMillis, String sender, Long size, String state, int attempts,
            List<RecipientStatus> recipients, String lastReply, String remoteHost, boolean truncated) {
    }

    private final KafkaAccess kafka;
    private final Topics topics;

    public MessageHistory(KafkaAccess kafka, Topics topics) {
        this.kafka = kafka;
        this.topics = topics;
    }

    /** The message's status, or empty when no record of it is found. */
    public Optional<MessageStatus> find(QueueId id) {
        long arrived = id.epochMillis();
        if (arrived < 0) {
            throw new IllegalArgumentException("not a queue id made by this relay: " + id);
        }
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(kafka.consumer(null, 1 << 20,
                Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000)), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<DeliveryEvent> events = new ArrayList<>();
            boolean truncated = read(consumer, topics.events(), id, arrived, r -> false, EVENT_SCAN_LIMIT, r -> {
                events.add(RecordCodec.decode(r.value(), DeliveryEvent.class).metadata());
                return false;
            });
            Envelope[] original = new Envelope[1];
            long[] size = new long[1];
            // The edge writes the record as it makes the id; stop looking well after that.
            read(consumer, topics.outbound(), id, arrived, r -> r.timestamp() > arrived + SKEW_MILLIS, Integer.MAX_VALUE, r -> {
                RecordCodec.Decoded<Envelope> d = RecordCodec.decode(r.value(), Envelope.class);
                original[0] = d.metadata();
                size[0] = d.messageLength();
                return true;
            });
            if (events.isEmpty() && original[0] == null) {
                return Optional.empty();
            }
            return Optional.of(status(id, arrived, original[0], size[0], events, truncated));
        }
    }

    /**
     * Reads the id's partition of a topic from just before the arrival to its current end (or until
     * {@code stop} says so), handing the id's records to {@code take} until it returns true.
     *
     * @return whether the scan limit cut the reading short
     */
    private static boolean read(KafkaConsumer<String, byte[]> consumer, String topic, QueueId id, long arrived,
            Predicate<ConsumerRecord<String, byte[]>> stop, int limit, Predicate<ConsumerRecord<String, byte[]>> take) {
        int partitions = consumer.partitionsFor(topic, TIMEOUT).size();
        if (partitions == 0) {
            return false; // the topic does not exist (yet): nothing to read
        }
        TopicPartition tp = new TopicPartition(topic,
                Utils.toPositive(Utils.murmur2(id.value().getBytes(StandardCharsets.UTF_8))) % partitions);
        OffsetAndTimestamp from = consumer.offsetsForTimes(Map.of(tp, Math.max(0, arrived - SKEW_MILLIS)), TIMEOUT).get(tp);
        long end = consumer.endOffsets(List.of(tp), TIMEOUT).get(tp);
        if (from == null || from.offset() >= end) {
            return false; // nothing was written there since the message arrived
        }
        consumer.assign(List.of(tp));
        consumer.seek(tp, from.offset());
        long seen = 0;
        while (consumer.position(tp) < end) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                if (r.offset() >= end || stop.test(r)) {
                    return false;
                }
                if (++seen > limit) {
                    return true;
                }
                if (id.value().equals(r.key()) && take.test(r)) {
                    return false;
                }
            }
        }
        return false;
    }

    private static MessageStatus status(QueueId id, long arrived, Envelope original, long size, List<DeliveryEvent> events,
            boolean truncated) {
        Map<String, RecipientStatus> latest = new LinkedHashMap<>();
        if (original != null) {
            for (Recipient r : original.recipients()) {
                latest.put(r.address(), new RecipientStatus(r.address(), "QUEUED", 0, null, null, null, null, null));
            }
        }
        int attempts = 0;
        DeliveryEvent last = null;
        for (DeliveryEvent e : events) {
            // Events of one id are in one partition, so in the order they were written.
            latest.put(e.recipient(), new RecipientStatus(e.recipient(), e.outcome().name(), e.attempt(), e.atMillis(),
                    e.status(), e.reply(), e.remoteHost(), e.remoteAddress()));
            attempts = Math.max(attempts, e.attempt());
            last = e;
        }
        List<RecipientStatus> rcpts = List.copyOf(latest.values());
        String state = rcpts.stream().anyMatch(r -> r.outcome().equals("DEFERRED")) ? "deferred"
                : rcpts.stream().anyMatch(r -> r.outcome().equals("QUEUED")) ? "queued" : "finished";
        return new MessageStatus(id.value(), arrived, original == null ? null : original.reversePath(),
                original == null ? null : size, state, attempts, rcpts, last == null ? null : last.reply(),
                last == null ? null : last.remoteHost(), truncated);
    }
}
