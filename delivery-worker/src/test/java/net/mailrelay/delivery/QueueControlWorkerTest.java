package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.delivery.cluster.HazelcastQueueControls;
import net.mailrelay.delivery.cluster.HazelcastRetryRequests;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.testing.ClusterSecret;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Queue administration as a worker carries it out, on a real broker and two real Hazelcast members: the
 * operator's side writes holds and orders on one member ({@code admin}), the worker reads them on the
 * other. Hold, release, fail and delete, and held mail that ages out.
 */
@ExtendWith(KafkaFixture.class)
class QueueControlWorkerTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.admin.test");
    static KafkaBroker kafka;
    static List<HazelcastInstance> members;
    static HazelcastRetryRequests adminRetries;
    static HazelcastQueueControls admin;

    @BeforeAll
    static void start(KafkaBroker broker) {
        kafka = broker;
        members = TestMembers.cluster(2);
        adminRetries = new HazelcastRetryRequests(members.get(1), Clock.systemUTC());
        admin = new HazelcastQueueControls(members.get(1), ClusterSecret.SEAL, adminRetries, Duration.ofHours(1), Clock.systemUTC());
    }

    @AfterAll
    static void stop() {
        adminRetries.close();
        members.forEach(HazelcastInstance::shutdown);
    }

    WorkerFixture worker(List<Duration> tiers, Duration backoff, Duration lifetime, String... domains) throws Exception {
        List<String> routes = java.util.Arrays.stream(domains).map(d -> d + "=" + MX.hostPort()).toList();
        return new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                new RetrySchedule(tiers, backoff, backoff, lifetime), routes, null, 25, Map.of());
    }

    static boolean has(List<DeliveryEvent> events, DeliveryEvent.Outcome outcome) {
        return events.stream().anyMatch(e -> e.outcome() == outcome);
    }

    @Test
    void heldMailWaitsOnTheLongestTierUntilReleasedAndThenGoesAtOnce() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1), Duration.ofMinutes(10));
        try (WorkerFixture w = worker(tiers, Duration.ofSeconds(1), Duration.ofDays(1), "hold.test");
                TopicReader longest = new TopicReader(kafka, w.topics.retryTier(Duration.ofMinutes(10)))) {
            admin.hold("Hold.Test");
            assertThat(admin.holds()).containsKey("hold.test");
            QueueId id = w.enqueue("someone@hold.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> has(w.events(id), DeliveryEvent.Outcome.DEFERRED));
            assertThat(w.events(id)).singleElement().satisfies(e -> assertThat(e.reply()).contains("on hold"));
            ConsumerRecord<String, byte[]> waiting = longest.awaitAny(r -> r.key().equals(id.value()), Duration.ofSeconds(10))
                    .stream().filter(r -> r.key().equals(id.value())).findFirst().orElseThrow();
            assertThat(RecordCodec.decode(waiting.value(), Envelope.class).metadata().attempts())
                    .as("a hold is not an attempt").isZero();
            assertThat(MX.timesOffered("someone@hold.test")).isZero();

            assertThat(admin.release("hold.test")).isTrue();
            assertThat(admin.release("hold.test")).as("released already").isFalse();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> MX.deliveriesTo("someone@hold.test").size() == 1);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> has(w.events(id), DeliveryEvent.Outcome.DELIVERED));
            assertThat(w.events(id)).extracting(e -> e.outcome() + "#" + e.attempt()).containsExactly("DEFERRED#1", "DELIVERED#1");
        }
    }

    @Test
    void heldMailStillExpiresAtTheQueueLifetime() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1), Duration.ofSeconds(2));
        try (WorkerFixture w = worker(tiers, Duration.ofSeconds(1), Duration.ofSeconds(4), "ages.test");
                TopicReader bounces = new TopicReader(kafka, w.topics.bounce())) {
            admin.hold("ages.test");
            QueueId id = w.enqueue("someone@ages.test");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> has(w.events(id), DeliveryEvent.Outcome.EXPIRED));
            BounceRequest b = RecordCodec.decode(bounces.awaitAny(r -> r.key().equals(id.value()), Duration.ofSeconds(10))
                    .stream().filter(r -> r.key().equals(id.value())).findFirst().orElseThrow().value(), BounceRequest.class)
                    .metadata();
            assertThat(b.reports()).singleElement().satisfies(r -> assertThat(r.status()).isEqualTo("4.4.7"));
            assertThat(MX.timesOffered("someone@ages.test")).isZero();
        } finally {
            admin.release("ages.test");
        }
    }

    @Test
    void aFailedMessageIsReturnedToItsSenderAtOnce() throws Exception {
        List<Duration> tiers = List.of(Duration.ofMinutes(10));
        MX.replyToRecipient("stuck@fail.test", "451 4.3.0 try later");
        try (WorkerFixture w = worker(tiers, Duration.ofMinutes(10), Duration.ofDays(1), "fail.test");
                TopicReader bounces = new TopicReader(kafka, w.topics.bounce())) {
            QueueId id = w.enqueue("stuck@fail.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> has(w.events(id), DeliveryEvent.Outcome.DEFERRED));

            admin.order(id.value(), QueueControls.Order.FAIL);
            adminRetries.request("fail.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> has(w.events(id), DeliveryEvent.Outcome.FAILED));
            assertThat(w.events(id)).last().satisfies(e -> {
                assertThat(e.status()).isEqualTo("5.0.0");
                assertThat(e.reply()).isEqualTo("message failed by the administrator");
            });
            BounceRequest b = RecordCodec.decode(bounces.awaitAny(r -> r.key().equals(id.value()), Duration.ofSeconds(10))
                    .stream().filter(r -> r.key().equals(id.value())).findFirst().orElseThrow().value(), BounceRequest.class)
                    .metadata();
            assertThat(b.reports()).singleElement().satisfies(r -> {
                assertThat(r.status()).isEqualTo("5.0.0");
                assertThat(r.diagnostic()).isEqualTo("message failed by the administrator");
            });
            assertThat(MX.timesOffered("stuck@fail.test")).as("only the first attempt reached the server").isEqualTo(1);
        }
    }

    @Test
    void aDeletedMessageIsDroppedWithoutANotice() throws Exception {
        List<Duration> tiers = List.of(Duration.ofMinutes(10));
        MX.replyToRecipient("stuck@delete.test", "451 4.3.0 try later");
        try (WorkerFixture w = worker(tiers, Duration.ofMinutes(10), Duration.ofDays(1), "delete.test");
                TopicReader bounces = new TopicReader(kafka, w.topics.bounce());
                TopicReader tier = new TopicReader(kafka, w.topics.retryTier(Duration.ofMinutes(10)))) {
            QueueId id = w.enqueue("stuck@delete.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> has(w.events(id), DeliveryEvent.Outcome.DEFERRED));

            admin.order(id.value(), QueueControls.Order.DELETE);
            adminRetries.request("delete.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> has(w.events(id), DeliveryEvent.Outcome.DELETED));
            assertThat(w.events(id)).extracting(DeliveryEvent::outcome)
                    .containsExactly(DeliveryEvent.Outcome.DEFERRED, DeliveryEvent.Outcome.DELETED);
            Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4))
                    .until(() -> bounces.poll().stream().noneMatch(r -> r.key().equals(id.value())));
            // Only the deferral's record is on the tier: nothing was written back after the deletion.
            assertThat(tier.poll()).filteredOn(r -> r.key().equals(id.value())).hasSize(1);
            assertThat(MX.timesOffered("stuck@delete.test")).isEqualTo(1);
        }
    }
}
