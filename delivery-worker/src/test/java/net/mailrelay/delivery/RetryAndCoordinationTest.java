package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Retries through the tier topics on a real broker, and the cluster's shared limits with several
 * workers joined in a real Hazelcast cluster.
 */
@ExtendWith(KafkaFixture.class)
class RetryAndCoordinationTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.limited.test");
    @RegisterExtension
    static final DnsResponder DNS = new DnsResponder();
    static KafkaBroker kafka;
    static List<HazelcastInstance> members;

    @BeforeAll
    static void start(KafkaBroker broker) {
        kafka = broker;
        members = TestMembers.cluster(3);
        DNS.mx("limited.test", 10, "mx.limited.test").address("mx.limited.test", "127.0.0.1");
    }

    @AfterAll
    static void stop() {
        members.forEach(HazelcastInstance::shutdown);
    }

    static RetrySchedule schedule(List<Duration> tiers, Duration min, Duration max, Duration lifetime) {
        return new RetrySchedule(tiers, min, max, lifetime);
    }

    @Test
    void retriesFollowTheScheduleUntilTheServerTakesTheMessage() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4));
        MX.replyToRecipient("slow@routed.test", "451 4.3.0 busy", "451 4.3.0 busy", "451 4.3.0 busy", "250 2.1.5 Ok");
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                schedule(tiers, Duration.ofSeconds(1), Duration.ofSeconds(4), Duration.ofHours(1)),
                List.of("routed.test=" + MX.hostPort()), null, 25, Map.of())) {
            QueueId id = w.enqueue("slow@routed.test");
            Awaitility.await().atMost(Duration.ofSeconds(40))
                    .until(() -> w.events(id).stream().anyMatch(e -> e.outcome() == DeliveryEvent.Outcome.DELIVERED));
            List<DeliveryEvent> log = w.events(id);
            assertThat(log).extracting(e -> e.outcome() + "#" + e.attempt())
                    .containsExactly("DEFERRED#1", "DEFERRED#2", "DEFERRED#3", "DELIVERED#4");
            // Backoff 1 s, 2 s, 4 s, each with up to 10% jitter either way; a tier may bring a retry forward
            // by up to half the shortest tier (TierSchedule: rather than hold up the records behind it).
            long[] expected = {1000, 2000, 4000};
            for (int i = 0; i < 3; i++) {
                long gap = log.get(i + 1).atMillis() - log.get(i).atMillis();
                assertThat(gap).as("gap before attempt %d", i + 2).isBetween(expected[i] * 9 / 10 - 500, expected[i] * 3);
            }
            assertThat(MX.deliveriesTo("slow@routed.test")).hasSize(1);
        }
    }

    @Test
    void mailOlderThanItsLifetimeIsReturnedOnceWithExpiredStatus() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1));
        int dead = Ports.free();
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                schedule(tiers, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(4)),
                List.of("nowhere.test=127.0.0.1:" + dead), null, 25, Map.of());
                TopicReader bounces = new TopicReader(kafka, w.topics.bounce())) {
            QueueId id = w.enqueue("someone@nowhere.test");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> bounces.poll().stream().anyMatch(r -> r.key().equals(id.value())));
            Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(6))
                    .until(() -> bounces.poll().stream().filter(r -> r.key().equals(id.value())).count() == 1);
            BounceRequest b = RecordCodec.decode(bounces.poll().stream().filter(r -> r.key().equals(id.value())).findFirst()
                    .orElseThrow().value(), BounceRequest.class).metadata();
            assertThat(b.reports()).singleElement().satisfies(r -> {
                assertThat(r.status()).isEqualTo("4.4.7");
                assertThat(r.diagnostic()).contains("connect to");
            });
            assertThat(w.events(id)).last().extracting(DeliveryEvent::outcome).isEqualTo(DeliveryEvent.Outcome.EXPIRED);
        }
    }

    /**
     * Issue 15, defect 9: a record that waits longer than its tier must not hold up the one behind it.
     * The first waits 7.5 s on the 4 s tier: the tier holds it 4 s, then moves it down to the 2 s tier.
     * The second, due after 4 s, comes on time instead of waiting behind the first.
     */
    @Test
    void aRecordThatWaitsLongerThanItsTierDoesNotHoldUpTheNext() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(2), Duration.ofSeconds(4));
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(2),
                schedule(tiers, Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofHours(1)),
                List.of("routed.test=" + MX.hostPort()), null, 25, Map.of());
                TopicReader shorter = new TopicReader(kafka, w.topics.retryTier(Duration.ofSeconds(2)))) {
            long now = System.currentTimeMillis();
            long longDue = now + 7_500;
            long shortDue = now + 4_100;
            QueueId waitsLong = w.enqueueOnTier(Duration.ofSeconds(4), longDue, "long-wait@routed.test");
            QueueId behind = w.enqueueOnTier(Duration.ofSeconds(4), shortDue, "behind@routed.test");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> delivered(w, waitsLong) != null && delivered(w, behind) != null);
            assertThat(delivered(w, behind).atMillis() - shortDue).as("the second is not held up behind the first")
                    .isLessThan(1_500);
            assertThat(delivered(w, waitsLong).atMillis() - longDue).as("the first, moved down, comes on time")
                    .isBetween(-1_000L, 1_500L);
            assertThat(shorter.poll()).extracting(r -> r.key()).contains(waitsLong.value());
            assertThat(w.meters.find("mailrelay.retry.lateness").timers()).isNotEmpty();
        }
    }

    private static DeliveryEvent delivered(WorkerFixture w, QueueId id) {
        return w.events(id).stream().filter(e -> e.outcome() == DeliveryEvent.Outcome.DELIVERED).findFirst().orElse(null);
    }

    @Test
    void operatorsCanRetryADestinationNow() throws Exception {
        List<Duration> tiers = List.of(Duration.ofMinutes(10));
        MX.replyToRecipient("later@routed.test", "451 4.3.0 busy", "250 2.1.5 Ok");
        MX.replyToRecipient("other@elsewhere.test", "451 4.3.0 busy", "250 2.1.5 Ok");
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(1),
                schedule(tiers, Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofDays(1)),
                List.of("routed.test=" + MX.hostPort(), "elsewhere.test=" + MX.hostPort()), null, 25, Map.of())) {
            QueueId other = w.enqueue("other@elsewhere.test");
            QueueId id = w.enqueue("later@routed.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> w.events(id).size() == 1 && w.events(other).size() == 1);
            // Both now wait ten minutes on the tier; ask for routed.test only.
            w.retries.request("routed.test");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> MX.deliveriesTo("later@routed.test").size() == 1);
            Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4))
                    .until(() -> MX.deliveriesTo("other@elsewhere.test").isEmpty());
            assertThat(w.events(id)).extracting(e -> e.outcome() + "#" + e.attempt()).containsExactly("DEFERRED#1", "DELIVERED#2");
        }
    }

    @Test
    void aPerDestinationLimitHoldsAcrossWorkers() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1));
        var topics = kafka.freshTopics(tiers);
        List<WorkerFixture> workers = new ArrayList<>();
        try {
            for (HazelcastInstance m : members) {
                workers.add(new WorkerFixture(kafka, topics, m,
                        schedule(tiers, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(1)),
                        List.of(), DNS.hostPort(), MX.port(), Map.of("limited.test", 2)));
            }
            int before = MX.connectionCount();
            List<String> rcpts = new ArrayList<>();
            for (int i = 0; i < 90; i++) {
                rcpts.add("m" + i + "@limited.test");
                workers.get(0).enqueue("m" + i + "@limited.test");
            }
            Awaitility.await().atMost(Duration.ofSeconds(90))
                    .until(() -> rcpts.stream().allMatch(r -> !MX.deliveriesTo(r).isEmpty()));
            assertThat(MX.maxConcurrentConnections()).isLessThanOrEqualTo(2);
            assertThat(rcpts).allMatch(r -> MX.deliveriesTo(r).size() == 1);
            assertThat(MX.connectionCount() - before).isGreaterThan(0);
        } finally {
            workers.forEach(WorkerFixture::close);
        }
    }

    static InetAddress loopback() {
        return InetAddress.getLoopbackAddress();
    }

    @Test
    void aStoppingWorkerFinishesWhatItStartedCommitsAndLeavesTheGroup() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(1));
        var topics = kafka.freshTopics(tiers);
        try (FakeMx slow = (FakeMx) new FakeMx("mx.slow.test").finalDotDelay(Duration.ofMillis(1500)).start();
                Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            WorkerFixture w = new WorkerFixture(kafka, topics, members.get(0),
                    schedule(tiers, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(1)),
                    List.of("slow.test=" + slow.hostPort()), null, 25, Map.of());
            List<String> rcpts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                rcpts.add("stop" + i + "@slow.test");
                w.enqueue("stop" + i + "@slow.test");
            }
            // Stop while deliveries are in the middle of their DATA phase.
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> slow.commandsSeen().contains("DATA"));
            long t0 = System.nanoTime();
            w.close();
            long stopMillis = (System.nanoTime() - t0) / 1_000_000;
            assertThat(stopMillis).as("stopping took no longer than the grace period and the final commit").isLessThan(15_000);

            // Everything started was finished: each recipient arrived once, and nothing is left uncommitted.
            assertThat(slow.deliveries()).isNotEmpty();
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(DeliveryWorker.groupId(topics))
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            long committedOnOutbound = committed.entrySet().stream().filter(e -> e.getKey().topic().equals(topics.outbound()))
                    .mapToLong(e -> e.getValue().offset()).sum();
            assertThat(committedOnOutbound).as("the offsets of every record it finished are committed")
                    .isEqualTo(slow.deliveries().size());
            assertThat(admin.describeConsumerGroups(List.of(DeliveryWorker.groupId(topics))).all().get(30, TimeUnit.SECONDS).get(DeliveryWorker.groupId(topics))
                    .members()).as("the worker left the group").isEmpty();

            // A second worker takes the rest: every recipient arrives exactly once.
            try (WorkerFixture next = new WorkerFixture(kafka, topics, members.get(1),
                    schedule(tiers, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(1)),
                    List.of("slow.test=" + slow.hostPort()), null, 25, Map.of())) {
                Awaitility.await().atMost(Duration.ofSeconds(60))
                        .until(() -> rcpts.stream().allMatch(r -> !slow.deliveriesTo(r).isEmpty()));
                Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                        .until(() -> rcpts.stream().allMatch(r -> slow.deliveriesTo(r).size() == 1));
            }
        }
    }
}
