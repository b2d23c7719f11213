package net.mailrelay.deploy.broker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import net.mailrelay.protocol.record.SuppressionEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Operators' view of the suppression list: reads the compacted topic to its end for a listing, and
 * writes entries and removals (a record with no value) that the workers' caches follow.
 */
public final class SuppressionTopic {

    private final KafkaAccess kafka;
    private final String topic;

    public SuppressionTopic(KafkaAccess kafka, String topic) {
        this.kafka = kafka;
        this.topic = topic;
    }

    /** The entries in force now, sorted by address. */
    public List<SuppressionEntry> list() {
        Map<String, SuppressionEntry> latest = new LinkedHashMap<>();
        Map<String, Object> c = kafka.consumer(null, 1 << 20, Map.of());
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.value() == null) {
                        latest.remove(r.key());
                    } else {
                        latest.put(r.key(), RecordCodec.decode(r.value(), SuppressionEntry.class).metadata());
                    }
                }
            }
        }
        long now = System.currentTimeMillis();
        List<SuppressionEntry> out = new ArrayList<>(latest.values());
        out.removeIf(e -> !e.activeAt(now));
        out.sort(Comparator.comparing(e -> SuppressionEntry.key(e.address())));
        return out;
    }

    public void add(String address, String reason, Duration ttl) {
        long now = System.currentTimeMillis();
        SuppressionEntry e = new SuppressionEntry(address, reason, "5.1.1", now, now + ttl.toMillis());
        send(List.of(new ProducerRecord<>(topic, null, SuppressionEntry.key(address), RecordCodec.encode(e),
                List.of(new RecordHeader(RecordHeaders.FORMAT, RecordCodec.FORMAT_HEADER_VALUE.getBytes())))));
    }

    public void remove(Collection<String> addresses) {
        send(addresses.stream().map(a -> new ProducerRecord<String, byte[]>(topic, SuppressionEntry.key(a), null)).toList());
    }

    private void send(List<ProducerRecord<String, byte[]>> records) {
        Map<String, Object> c = kafka.producer(null, 1 << 20, Map.of());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(c, new StringSerializer(), new ByteArraySerializer())) {
            for (ProducerRecord<String, byte[]> r : records) {
                producer.send(r).get(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not write to " + topic + ": " + e.getMessage(), e);
        }
    }
}
