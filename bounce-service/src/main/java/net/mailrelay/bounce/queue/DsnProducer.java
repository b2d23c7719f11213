package net.mailrelay.bounce.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import net.mailrelay.bounce.dsn.Dsn;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Queues notifications on the outbound topic, like any accepted mail: idempotent producer,
 * {@code acks=all}, keyed by the notification's own queue id. The returned stage completes when every
 * in-sync replica has the record; only then may the bounce request behind it be committed.
 */
final class DsnProducer implements AutoCloseable {

    // The producer never gives up on a notification itself: it retries the batch with the same sequence
    // number until a broker answers, so one that comes back from a freeze keeps one copy. Giving up after
    // a timeout could not tell whether the broker had it, and sending it again was a second DSN.
    private static final int DELIVERY_TIMEOUT_MS = Integer.MAX_VALUE;
    /** How long close waits for what is still unanswered; the next owner of its partition sends it again. */
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    // send() blocks the poll thread while it waits for metadata or buffer space; bound that wait.
    private static final Duration MAX_BLOCK = Duration.ofSeconds(10);

    private final KafkaProducer<String, byte[]> producer;
    private final String topic;

    DsnProducer(KafkaAccess kafka, String topic, int maxRecordBytes, String clientId) {
        this.topic = topic;
        this.producer = new KafkaProducer<>(config(kafka, maxRecordBytes, clientId),
                new StringSerializer(), new ByteArraySerializer());
    }

    static Map<String, Object> config(KafkaAccess kafka, int maxRecordBytes, String clientId) {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        c.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, DELIVERY_TIMEOUT_MS);
        c.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) REQUEST_TIMEOUT.toMillis());
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, MAX_BLOCK.toMillis());
        return kafka.producer(clientId, maxRecordBytes, c);
    }

    CompletableFuture<Void> send(Envelope envelope, Dsn dsn) {
        CompletableFuture<Void> acked = new CompletableFuture<>();
        byte[] value = RecordCodec.encode(envelope, dsn.message(), 0, dsn.message().length);
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, null, envelope.queueId().value(), value,
                List.of(new RecordHeader(RecordHeaders.FORMAT, RecordCodec.FORMAT_HEADER_VALUE.getBytes(StandardCharsets.US_ASCII))));
        try {
            producer.send(record, (metadata, error) -> {
                if (error == null) {
                    acked.complete(null);
                } else {
                    acked.completeExceptionally(error);
                }
            });
        } catch (RuntimeException e) {
            // Buffer full for MAX_BLOCK, metadata unavailable, record too large: a failed send like any other.
            acked.completeExceptionally(e);
        }
        return acked;
    }

    KafkaProducer<String, byte[]> producer() {
        return producer;
    }

    @Override
    public void close() {
        producer.close(CLOSE_TIMEOUT);
    }
}
