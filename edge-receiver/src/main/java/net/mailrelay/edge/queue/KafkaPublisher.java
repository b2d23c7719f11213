package net.mailrelay.edge.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import net.mailrelay.edge.Publisher;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes accepted mail to the outbound topic with an idempotent producer and {@code acks=all}: the
 * returned stage completes only when every in-sync replica has the record, which is what lets the edge
 * say 250. The producer gives up after the publish timeout, so a broker outage becomes a 451 rather
 * than a hung client.
 */
public final class KafkaPublisher implements Publisher, AutoCloseable {

    private final KafkaProducer<String, byte[]> producer;
    private final String topic;
    private final Duration timeout;
    // KafkaProducer.send blocks while it waits for metadata or buffer space; it must never do that on
    // an event loop, so sends are handed to this thread.
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "edge-publish");
        t.setDaemon(true);
        return t;
    });

    public KafkaPublisher(String bootstrapServers, String topic, Duration timeout, int maxRecordBytes, String clientId) {
        this.topic = topic;
        this.timeout = timeout;
        this.producer = new KafkaProducer<>(config(bootstrapServers, timeout, maxRecordBytes, clientId),
                new StringSerializer(), new ByteArraySerializer());
    }

    static Map<String, Object> config(String bootstrapServers, Duration timeout, int maxRecordBytes, String clientId) {
        long ms = timeout.toMillis();
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        c.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        c.put(ProducerConfig.ACKS_CONFIG, "all");
        c.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // One request at a time: what arrives while it is in flight (and, on a standalone broker, being
        // fsynced) goes out together in the next one. Group commit: several in-flight requests would each
        // wait for their own fsync, one after the other. That wait is the batching, so no linger is added
        // to it: a message that finds the connection idle goes at once.
        c.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        c.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        // The key (the queue id) orders nothing: one record per message. Ignoring it lets concurrent
        // sessions share one partition's batch, so a broker that fsyncs each batch (standalone) syncs once
        // for many messages instead of once per message spread over every partition.
        c.put(ProducerConfig.PARTITIONER_IGNORE_KEYS_CONFIG, true);
        c.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRecordBytes);
        c.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Math.max(64L << 20, 2L * maxRecordBytes));
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) ms);
        c.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.max(1, ms - 10));
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, ms);
        return c;
    }

    @Override
    public CompletionStage<Void> publish(QueueId queueId, byte[] recordValue) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, null, queueId.value(), recordValue,
                List.of(new RecordHeader(RecordHeaders.FORMAT, RecordCodec.FORMAT_HEADER_VALUE.getBytes(StandardCharsets.US_ASCII))));
        try {
            sender.execute(() -> {
                try {
                    producer.send(record, (metadata, error) -> {
                        if (error == null) {
                            done.complete(null);
                        } else {
                            done.completeExceptionally(error);
                        }
                    });
                } catch (RuntimeException e) {
                    done.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            done.completeExceptionally(e);
        }
        // The producer's own delivery timeout normally fires first; this is the backstop that guarantees
        // the client an answer.
        return done.orTimeout(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        sender.shutdown();
        try {
            sender.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(timeout);
    }
}
