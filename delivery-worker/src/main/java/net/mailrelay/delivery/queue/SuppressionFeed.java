package net.mailrelay.delivery.queue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.SuppressionEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the compacted suppression topic from the beginning and keeps following it, handing every entry
 * (and every removal, a record with no value) to the cache the workers and edges read. The topic is the
 * durable list; the cache can always be rebuilt from it.
 */
public final class SuppressionFeed implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SuppressionFeed.class);

    /** Where entries go. */
    public interface Sink {
        void put(SuppressionEntry entry);

        void remove(String key);
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final Sink sink;
    private final Thread thread;
    private volatile boolean running = true;

    public SuppressionFeed(KafkaAccess kafka, String topic, Sink sink, String clientId) {
        this.consumer = new KafkaConsumer<>(kafka.consumer(clientId, 1 << 20, Map.of()), new StringDeserializer(),
                new ByteArrayDeserializer());
        this.topic = topic;
        this.sink = sink;
        this.thread = new Thread(this::run, "suppression-feed");
        this.thread.setDaemon(true);
    }

    public SuppressionFeed start() {
        thread.start();
        return this;
    }

    private void run() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofSeconds(1))) {
                    apply(r);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            if (running) {
                LOG.error("suppression list feed from {} stopped", topic, e);
            }
        } finally {
            consumer.close();
        }
    }

    private void apply(ConsumerRecord<String, byte[]> r) {
        if (r.value() == null) {
            sink.remove(r.key());
            return;
        }
        try {
            SuppressionEntry e = RecordCodec.decode(r.value(), SuppressionEntry.class).metadata();
            if (e.activeAt(System.currentTimeMillis())) {
                sink.put(e);
            } else {
                sink.remove(r.key());
            }
        } catch (RecordCodec.MalformedRecordException e) {
            LOG.warn("skipping unreadable suppression entry {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
