package net.mailrelay.delivery.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import net.mailrelay.delivery.attempt.AttemptRecords;
import net.mailrelay.protocol.record.KafkaAccess;
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
 * Writes the outcome records of delivery attempts (events, retries, bounce requests) and the records
 * moved between retry tiers, with an idempotent {@code acks=all} producer. A record's offset is
 * committed only after every outcome it produced is acknowledged, so an outcome is never lost between
 * "delivered" and "committed".
 *
 * <p>The producer never gives up on a record itself ({@code delivery.timeout.ms} unbounded): it retries
 * a batch with the same sequence number until a broker answers, so a broker that comes back from a
 * freeze keeps one copy. A producer that gave up after a timeout could not say whether the broker had
 * the record, and sending it again wrote some bounce requests twice, which is two DSNs to a sender
 * (the fault suite's {@code kafka-freeze}). Only a record the broker refuses outright (too large, not
 * authorized) comes back as a failure, and is sent again after a backoff.
 */
final class OutcomeWriter implements AutoCloseable {

    private static final Header FORMAT = new RecordHeader(RecordHeaders.FORMAT,
            RecordCodec.FORMAT_HEADER_VALUE.getBytes(StandardCharsets.US_ASCII));
    /** How long a send may block for metadata or buffer space: it runs on a delivery thread. */
    private static final Duration MAX_BLOCK = Duration.ofSeconds(10);

    private final KafkaProducer<String, byte[]> producer;

    /** @param timeout how long a caller waits for an answer before it lets go and waits again later */
    OutcomeWriter(KafkaAccess kafka, int maxRecordBytes, String clientId, Duration timeout) {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        long ms = timeout.toMillis();
        c.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.min(30_000, Math.max(1_000, ms / 2)));
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Integer.MAX_VALUE);
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Math.min(ms, MAX_BLOCK.toMillis()));
        producer = new KafkaProducer<>(kafka.producer(clientId, maxRecordBytes, c), new StringSerializer(), new ByteArraySerializer());
    }

    /** Sends one record; the future completes when it is acknowledged, or fails. */
    CompletableFuture<Void> send(AttemptRecords.Write w) {
        return send(w.topic(), w.key(), w.value(), w.notBeforeMillis());
    }

    /** Sends one record; the future completes when it is acknowledged, or fails. */
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
        producer.close(Duration.ofSeconds(10));
    }
}
