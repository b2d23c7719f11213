package net.mailrelay.edge.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.testing.FreezableProxy;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.RepliesDropped;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
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
                        KafkaPublisher.transactionalId("test"), new EdgeMetrics(registry), 100_000)) {
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

    /**
     * Issue 29, item 11: a 451 is never followed by the record. The broker's replies are dropped while a
     * message is published: the broker appends the record, the edge hears nothing and answers 451 at its
     * publish timeout, and the client will send it again. With a plain idempotent producer the record
     * stayed on the topic and was delivered as well (two copies); now the transaction carrying it is never
     * committed, and the relay's read_committed consumers never see it. The next message goes through.
     */
    @Test
    void aMessageAnswered451IsNeverReadEvenIfTheBrokerAppendedIt() throws Exception {
        // Two brokers: the transaction coordinator on one, the topic's partition on the other, whose
        // replies are dropped. It appends the record; neither the edge nor the coordinator hears of it.
        try (KafkaBroker kafka = KafkaFixture.inJvmCluster(2, Map.of("transaction.state.log.num.partitions", "1"));
                Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
            try (KafkaProducer<String, byte[]> first = new KafkaProducer<>(Map.of("bootstrap.servers", kafka.bootstrapServers(),
                    "transactional.id", "makes-the-transaction-log"), new StringSerializer(), new ByteArraySerializer())) {
                first.initTransactions();
            }
            int coordinator = admin.describeTopics(List.of("__transaction_state")).allTopicNames().get()
                    .get("__transaction_state").partitions().get(0).leader().id();
            Node other = admin.describeCluster().nodes().get().stream().filter(n -> n.id() != coordinator).findFirst().orElseThrow();
            String topic = "outbound-" + UUID.randomUUID();
            admin.createTopics(List.of(new NewTopic(topic, Map.of(0, List.of(other.id()))))).all().get();

            QueueId before = QueueId.next(System.currentTimeMillis());
            QueueId lost = QueueId.next(System.currentTimeMillis() + 1);
            QueueId after = QueueId.next(System.currentTimeMillis() + 2);
            try (KafkaPublisher publisher = new KafkaPublisher(KafkaAccess.plaintext(kafka.bootstrapServers()), topic,
                    Duration.ofSeconds(4), 1 << 20, "test", KafkaPublisher.transactionalId("test"), new EdgeMetrics(new SimpleMeterRegistry()))) {
                publisher.publish(before, "before".getBytes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
                CompletableFuture<Void> answered;
                try (RepliesDropped dropped = new RepliesDropped(other.port())) {
                    answered = publisher.publish(lost, "lost".getBytes()).toCompletableFuture();
                    Awaitility.await().atMost(Duration.ofSeconds(20)).until(answered::isDone);
                }
                assertThat(answered).as("451").isCompletedExceptionally();
                publisher.publish(after, "after".getBytes()).toCompletableFuture().get(60, TimeUnit.SECONDS);
            }
            assertThat(keys(kafka, topic, "read_uncommitted")).as("the broker appended it").contains(lost.value());
            assertThat(keys(kafka, topic, "read_committed")).contains(before.value(), after.value()).doesNotContain(lost.value());
        }
    }

    /** The keys of every record on the topic, as a consumer with this isolation level reads them. */
    private static List<String> keys(KafkaBroker kafka, String topic, String isolation) {
        java.util.Map<String, Object> c = new java.util.HashMap<>();
        c.put(org.apache.kafka.clients.consumer.ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        c.put(org.apache.kafka.clients.consumer.ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<>(c,
                new org.apache.kafka.common.serialization.StringDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            List<org.apache.kafka.common.TopicPartition> parts = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(i -> new org.apache.kafka.common.TopicPartition(topic, i.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            java.util.Map<org.apache.kafka.common.TopicPartition, Long> end = consumer.endOffsets(parts, Duration.ofSeconds(30));
            List<String> keys = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> keys.add(r.key()));
            }
            return keys;
        }
    }
}
