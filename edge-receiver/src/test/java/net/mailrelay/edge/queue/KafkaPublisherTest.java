package net.mailrelay.edge.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.testing.FreezableProxy;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The publisher's queue in front of a Kafka that cannot be found: bounded, and never blocking its caller. */
@ExtendWith(KafkaFixture.class)
class KafkaPublisherTest {

    @Test
    void aFullQueueAnswersAtOnceAndIsCounted(KafkaBroker kafka) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        String topic = kafka.freshTopics(List.of()).outbound();
        List<CompletableFuture<Void>> admitted = new ArrayList<>();
        CompletableFuture<Void> refused = null;
        // An 8 s publish timeout: sends block up to 2 s on the missing metadata, the queue waits up to 2 s.
        try (FreezableProxy proxy = new FreezableProxy(kafka.bootstrapServers()).freeze();
                KafkaPublisher publisher = new KafkaPublisher(KafkaAccess.plaintext(proxy.address()), topic, Duration.ofSeconds(8), 1 << 20, "test",
                        new EdgeMetrics(registry), 100_000)) {
            for (int i = 0; i < 20 && refused == null; i++) {
                long t0 = System.nanoTime();
                CompletableFuture<Void> f = publisher.publish(QueueId.next(System.currentTimeMillis()), new byte[30_000])
                        .toCompletableFuture();
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("publish() never blocks").isLessThan(Duration.ofMillis(200));
                if (f.isDone()) {
                    refused = f;
                } else {
                    admitted.add(f);
                }
            }
            // One send blocked on metadata (taken off the queue, or about to be), three behind it fill 100,000 bytes.
            assertThat(admitted).hasSizeBetween(3, 4);
            assertThat(refused).isNotNull();
            assertThatThrownBy(refused::join).isInstanceOf(CompletionException.class).cause()
                    .isInstanceOfSatisfying(NotSentException.class, e -> assertThat(e.reason()).isEqualTo(NotSentException.Reason.QUEUE_FULL));
            assertThat(registry.get("mailrelay.edge.publish.refused").tag("reason", "queue_full").counter().count()).isEqualTo(1);
            assertThat(registry.get("mailrelay.edge.publish.queue").gauge().value()).isBetween(60_000.0, 100_000.0);
        }
        // Stopping answers whatever was still waiting: no caller is left without an answer.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> admitted.stream().allMatch(CompletableFuture::isDone));
        assertThat(admitted).allMatch(CompletableFuture::isCompletedExceptionally);
    }

    @Test
    void timesComeFromThePublishTimeout() {
        KafkaPublisher.Timing usual = KafkaPublisher.Timing.of(Duration.ofSeconds(30));
        assertThat(usual.maxBlock()).isEqualTo(Duration.ofSeconds(2));
        assertThat(usual.maxQueueWait()).isEqualTo(Duration.ofSeconds(5));
        assertThat(usual.lastResort()).isEqualTo(Duration.ofSeconds(42));
        KafkaPublisher.Timing shortOne = KafkaPublisher.Timing.of(Duration.ofSeconds(2));
        assertThat(shortOne.maxBlock()).isEqualTo(Duration.ofMillis(500));
        assertThat(shortOne.maxQueueWait()).isEqualTo(Duration.ofMillis(500));
    }
}
