package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.TopicReader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 15, defects 1 and 5: an outcome that cannot be written, on a real broker. The bounce topic is
 * made to refuse records for a while (it takes no record stamped before it arrives, and each send is
 * stamped anew), so one record's outcome fails to be written while the records around it, to other destinations,
 * succeed. (A topic that refuses a record for good, as too large, is RefusedRecordsTest's.)
 */
@ExtendWith(KafkaFixture.class)
class OutcomeTroubleTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.dest.test");
    /** Takes its time over the final dot, so that a record is still being delivered when the next one fails. */
    @RegisterExtension
    static final FakeMx SLOW = new FakeMx("mx.slow.test").finalDotDelay(Duration.ofSeconds(3));
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

    /**
     * Three records on one partition: the first still at the slow MX when the second's bounce request is
     * refused, the third delivered at once. The second is not delivered again while its outcome waits,
     * the first's completion still counts, and once the broker takes bounce requests again the partition
     * commits through to its end with nothing left in flight. Before: the failure rewound the partition
     * to a new epoch, the first record's completion was ignored, the partition never committed again,
     * and the second record went over SMTP again every 5 seconds.
     */
    @Test
    void anOutcomeThatCannotBeWrittenIsWrittenAgainNotDeliveredAgain() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(2));
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                new RetrySchedule(tiers, Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofHours(1)),
                List.of("dest.test=" + MX.hostPort(), "slow.test=" + SLOW.hostPort()), null, 25, Map.of());
                TopicReader bounces = new TopicReader(kafka, w.topics.bounce())) {
            topicRefuses(w.topics.bounce(), true);
            QueueId slow = w.enqueueTo(0, "someone@slow.test");
            QueueId refused = w.enqueueTo(0, "permfail-outcome@dest.test");
            QueueId quick = w.enqueueTo(0, "quick@dest.test");

            await().atMost(Duration.ofSeconds(20)).until(() -> SLOW.deliveriesTo("someone@slow.test").size() == 1
                    && MX.deliveriesTo("quick@dest.test").size() == 1);
            // The first and third are done; the second's bounce request is refused, and tried again and again.
            await().atMost(Duration.ofSeconds(20)).until(() -> w.committed(w.topics.outbound()).getOrDefault(0, 0L) == 1L);
            await().during(Duration.ofSeconds(6)).atMost(Duration.ofSeconds(10))
                    .until(() -> MX.timesOffered("permfail-outcome@dest.test") == 1);
            assertThat(w.worker.inFlight()).isEqualTo(1);

            topicRefuses(w.topics.bounce(), false);
            await().atMost(Duration.ofSeconds(30)).until(() -> w.committed(w.topics.outbound()).getOrDefault(0, 0L) == 3L);
            await().atMost(Duration.ofSeconds(5)).until(() -> w.worker.inFlight() == 0);
            assertThat(MX.timesOffered("permfail-outcome@dest.test")).as("never delivered again").isEqualTo(1);
            assertThat(bounces.awaitAny(r -> r.key().equals(refused.value()), Duration.ofSeconds(10))).hasSize(1);
            assertThat(w.events(refused)).extracting(DeliveryEvent::outcome).containsExactly(DeliveryEvent.Outcome.FAILED);
            assertThat(w.events(slow)).extracting(DeliveryEvent::outcome).containsExactly(DeliveryEvent.Outcome.DELIVERED);
            assertThat(w.events(quick)).extracting(DeliveryEvent::outcome).containsExactly(DeliveryEvent.Outcome.DELIVERED);
        }
    }

    /**
     * A refused recipient is marked bounced as soon as its bounce request is durable, even while the
     * attempt's events are still refused: a second reading of the record meanwhile (after a rebalance)
     * must not bounce it again. Before, the mark waited for every outcome record, and the fault suite's
     * {@code kafka-down} sent a sender two DSNs.
     */
    @Test
    void aRecipientIsMarkedBouncedOnceItsBounceRequestIsDurableWhateverElseWaits() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(2));
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                new RetrySchedule(tiers, Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofHours(1)),
                List.of("dest.test=" + MX.hostPort()), null, 25, Map.of())) {
            topicRefuses(w.topics.events(), true);
            try {
                QueueId id = w.enqueueTo(1, "permfail-events-refused@dest.test");
                var ledger = new net.mailrelay.delivery.cluster.HazelcastLedger(members.get(0), net.mailrelay.testing.ClusterSecret.SEAL, Duration.ofHours(1),
                        Duration.ofMinutes(5));
                await().atMost(Duration.ofSeconds(20)).until(() -> ledger.settled(id, "permfail-events-refused@dest.test")
                        == net.mailrelay.delivery.ledger.RecipientLedger.Settled.BOUNCED);
                assertThat(w.committed(w.topics.outbound()).getOrDefault(1, 0L)).as("its events still wait").isZero();
            } finally {
                topicRefuses(w.topics.events(), false);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> w.committed(w.topics.outbound()).getOrDefault(1, 0L) == 1L);
        }
    }

    static void topicRefuses(String name, boolean refuse) {
        kafka.refuseWrites(name, refuse);
    }

    /**
     * Issue 29: an Error in a delivery job (here a StackOverflowError from the suppression check) is
     * reported to the worker's Fatal handler with the job's queue id, and counted; a deployed worker then
     * exits to be restarted. Before, it escaped the delivery thread unseen, leaving the record's offset
     * unfinished and its in-flight slot taken for good.
     */
    @Test
    void anErrorInADeliveryJobIsFatalNotASilentStall() throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(2));
        Suppressions overflowing = address -> {
            if (address.startsWith("overflow")) {
                throw new StackOverflowError("a test's");
            }
            return null;
        };
        try (WorkerFixture w = new WorkerFixture(kafka, kafka.freshTopics(tiers), members.get(0),
                new RetrySchedule(tiers, Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofHours(1)),
                List.of("dest.test=" + MX.hostPort()), null, 25, Map.of(), 0, overflowing,
                java.util.function.UnaryOperator.identity())) {
            QueueId id = w.enqueueTo(0, "overflow@dest.test");
            await().atMost(Duration.ofSeconds(20)).until(() -> !w.fatal.isEmpty());
            assertThat(w.fatal).singleElement().asString().startsWith(id.value() + ": ")
                    .contains("java.lang.StackOverflowError: a test's");
            assertThat(w.meters.get("mailrelay.delivery.fatal.errors").counter().count()).isEqualTo(1.0);
            assertThat(MX.timesOffered("overflow@dest.test")).isZero();
        }
    }
}
