package net.mailrelay.delivery.queue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Writes the outcome records of delivery attempts (events, retries, bounce requests) with an idempotent
 * {@code acks=all} producer. A record's offset is committed only after every outcome it produced is
 * acknowledged, so an outcome is never lost between "delivered" and "committed".
 */
final class OutcomeWriter implements AutoCloseable {

    private static final Header FORMAT = new RecordHeader(RecordHeaders.FORMAT,
            RecordCodec.FORMAT_HEADER_VALUE.getBytes(StandardCharsets.US_ASCII));

    private final KafkaProducer<String, byte[]> producer;

    OutcomeWriter(String bootstrapServers, int maxRecordBytes, String clientId) {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        c.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        c.put(ProducerConfig.ACKS_CONFIG, "all");
        c.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        c.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRecordBytes);
        c.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Math.max(64L << 20, 2L * maxRecordBytes));
        producer = new KafkaProducer<>(c, new StringSerializer(), new ByteArraySerializer());
    }

    /** Sends one record; the future completes when it is acknowledged. */
    CompletableFuture<Void> send(String topic, String key, byte[] value, Long notBeforeMillis) {
        List<Header> headers = new ArrayList<>(2);
        headers.add(FORMAT);
        if (notBeforeMillis != null) {
            headers.add(new RecordHeader(RecordHeaders.NOT_BEFORE,
                    Long.toString(notBeforeMillis).getBytes(StandardCharsets.US_ASCII)));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            producer.send(new ProducerRecord<>(topic, null, key, value, headers), (md, e) -> {
                if (e == null) {
                    done.complete(null);
                } else {
                    done.completeExceptionally(e);
                }
            });
        } catch (RuntimeException e) {
            done.completeExceptionally(e);
        }
        return done;
    }

    KafkaProducer<String, byte[]> producer() {
        return producer;
    }

    @Override
    public void close() {
        producer.close();
    }
}
