package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What a running worker counts, on a real broker, a real Hazelcast member and a fake MX. */
@ExtendWith(KafkaFixture.class)
class WorkerMetricsTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.metrics.test");
    static KafkaBroker kafka;
    static List<HazelcastInstance> members;

    @BeforeAll
    static void start(KafkaBroker broker) {
        kafka = broker;
        members = TestMembers.cluster(1);
    }

    @AfterAll
    static void stop() {
        members.forEach(HazelcastInstance::shutdown);
    }

    static double count(WorkerFixture w, String name, String... tags) {
        var c = w.meters.find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void outcomesReasonsLatencyAndQueueStateAreCounted() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1));
        MX.replyToRecipient("later@metrics.test", "452 4.2.2 Mailbox full", "250 2.1.5 Ok");
        MX.replyToRecipient("gone@metrics.test", "550 5.1.1 <gone@metrics.test>: Recipient address rejected: User unknown");
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                new RetrySchedule(tiers, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(1)),
                List.of("metrics.test=" + MX.hostPort()), null, 25, Map.of())) {
            var ok = w.enqueue("fine@metrics.test");
            var later = w.enqueue("later@metrics.test");
            var gone = w.enqueue("gone@metrics.test");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                    w.events(later).stream().anyMatch(e -> e.outcome() == DeliveryEvent.Outcome.DELIVERED)
                            && !w.events(ok).isEmpty() && !w.events(gone).isEmpty());

            assertThat(count(w, "mailrelay.delivery.attempts", "outcome", "delivered", "status_class", "2")).isEqualTo(2);
            assertThat(count(w, "mailrelay.delivery.attempts", "outcome", "deferred", "status_class", "4")).isEqualTo(1);
            assertThat(count(w, "mailrelay.delivery.attempts", "outcome", "failed", "status_class", "5")).isEqualTo(1);
            assertThat(count(w, "mailrelay.delivery.deferrals", "failure_class", "mailbox-full")).isEqualTo(1);
            assertThat(count(w, "mailrelay.delivery.failures", "failure_class", "invalid-mailbox")).isEqualTo(1);
            assertThat(w.meters.get("mailrelay.delivery.delay").timer().count()).isEqualTo(2);
            assertThat(w.meters.get("mailrelay.delivery.attempt").tag("outcome", "delivered").timer().count()).isEqualTo(2);
            // Gauges over live state: the connection pool keeps the last connection open for reuse.
            assertThat(w.meters.get("mailrelay.delivery.connections.active").gauge().value()).isGreaterThanOrEqualTo(0);
            assertThat(w.meters.get("mailrelay.queue.in.flight").gauge().value()).isZero();
            Awaitility.await().atMost(Duration.ofSeconds(15)).until(() ->
                    w.meters.get("mailrelay.queue.lag").tag("topic", "mail.outbound").gauge().value() == 0);
            assertThat(w.meters.find("mailrelay.queue.lag").tag("topic", "mail.retry.1s").gauge()).isNotNull();
            assertThat(w.meters.find("kafka.consumer.fetch.manager.records.consumed.total").meters()).isNotEmpty();
        }
    }

    @Test
    void mailWaitingOnATierShowsAsThatTiersLag() throws Exception {
        List<Duration> tiers = List.of(Duration.ofMinutes(10));
        MX.replyToRecipient("waits@metrics.test", "451 4.3.0 try later");
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                new RetrySchedule(tiers, Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofHours(1)),
                List.of("metrics.test=" + MX.hostPort()), null, 25, Map.of())) {
            var id = w.enqueue("waits@metrics.test");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !w.events(id).isEmpty());
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                    w.meters.get("mailrelay.queue.lag").tag("topic", "mail.retry.10m").gauge().value() == 1);
            assertThat(w.meters.get("mailrelay.queue.lag").tag("topic", "mail.outbound").gauge().value()).isZero();
        }
    }
}
