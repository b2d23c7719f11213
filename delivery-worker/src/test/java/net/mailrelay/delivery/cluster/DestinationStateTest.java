package net.mailrelay.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.core.HazelcastInstance;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.smtp.ConnectionGate;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.ClusterSecret;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The shared per-destination state, seen from two members of a real Hazelcast cluster. */
class DestinationStateTest {

    static List<HazelcastInstance> members;

    @BeforeAll
    static void start() {
        members = TestMembers.cluster(2);
    }

    @AfterAll
    static void stop() {
        members.forEach(HazelcastInstance::shutdown);
    }

    @Test
    void connectionSlotsAreCountedAcrossTheCluster() {
        HazelcastConnectionGate a = new HazelcastConnectionGate(members.get(0), 20, Map.of("orange.fr", 2), Duration.ofSeconds(60));
        HazelcastConnectionGate b = new HazelcastConnectionGate(members.get(1), 20, Map.of("orange.fr", 2), Duration.ofSeconds(60));
        ConnectionGate.Lease one = a.tryAcquire("orange.fr");
        ConnectionGate.Lease two = b.tryAcquire("ORANGE.FR");
        assertThat(one).isNotNull();
        assertThat(two).isNotNull();
        assertThat(a.tryAcquire("orange.fr")).isNull();
        assertThat(b.tryAcquire("orange.fr")).isNull();
        assertThat(a.tryAcquire("free.fr")).isNotNull();
        one.release();
        assertThat(b.tryAcquire("orange.fr")).isNotNull();
        a.close();
        b.close();
    }

    @Test
    void theSlotsOfADeadWorkerComeFreeWhenTheirLeaseRunsOut() {
        HazelcastConnectionGate alive = new HazelcastConnectionGate(members.get(1), 1, Map.of(), Duration.ofSeconds(2));
        // A worker that took the only slot and then died: nobody releases it and nobody renews it.
        members.get(0).getMap(HazelcastConnectionGate.MAP).put("lease.test#0", "a-worker-that-died", 2,
                java.util.concurrent.TimeUnit.SECONDS);
        assertThat(alive.tryAcquire("lease.test")).isNull();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> alive.tryAcquire("lease.test") != null);
        alive.close();
    }

    @Test
    void repeatedFailuresSuspendADestinationForEveryWorker() {
        HazelcastDestinationGuard a = new HazelcastDestinationGuard(members.get(0), 3, Duration.ofSeconds(2), Map.of(), Clock.systemUTC());
        HazelcastDestinationGuard b = new HazelcastDestinationGuard(members.get(1), 3, Duration.ofSeconds(2), Map.of(), Clock.systemUTC());
        a.failed("down.test", "connect to mx.down.test: Connection refused");
        b.failed("down.test", "connect to mx.down.test: Connection refused");
        assertThat(a.suspended("down.test")).isNull();
        a.failed("down.test", "connect to mx.down.test: Connection refused");
        assertThat(a.suspended("down.test")).as("at once where it was recorded").contains("Connection refused");
        // Every other worker reads it from its copy, kept by events: within one event's delivery.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> b.suspended("down.test") != null);
        assertThat(b.suspended("down.test")).contains("Connection refused");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> a.suspended("down.test") == null);
        a.failed("down.test", "again");
        assertThat(a.suspended("down.test")).isNull(); // counting starts afresh after a suspension
        b.succeeded("down.test");
        a.failed("down.test", "x");
        a.failed("down.test", "x");
        assertThat(a.suspended("down.test")).isNull();
    }

    @Test
    void messageRatesAreCountedAcrossTheCluster() {
        HazelcastDestinationGuard a = new HazelcastDestinationGuard(members.get(0), 0, Duration.ofSeconds(1), Map.of("gmail.test", 3),
                Clock.systemUTC());
        HazelcastDestinationGuard b = new HazelcastDestinationGuard(members.get(1), 0, Duration.ofSeconds(1), Map.of("gmail.test", 3),
                Clock.systemUTC());
        // All inside one minute window unless the test straddles a minute boundary; then the count restarts.
        long allowed = 0;
        for (int i = 0; i < 3; i++) {
            allowed += (a.withinRate("gmail.test") ? 1 : 0) + (b.withinRate("gmail.test") ? 1 : 0);
        }
        assertThat(allowed).isBetween(3L, 5L);
        assertThat(a.withinRate("unlimited.test")).isTrue();
    }

    @Test
    void aRecipientIsClaimedByOneWorkerAtATime() {
        HazelcastLedger a = new HazelcastLedger(members.get(0), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofSeconds(30));
        HazelcastLedger b = new HazelcastLedger(members.get(1), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofSeconds(30));
        QueueId q = QueueId.next(System.currentTimeMillis());
        String held = a.claim(q, "x@y.test");
        assertThat(held).isNotNull();
        assertThat(a.claim(q, "x@y.test")).as("a second delivery on the same worker").isNull();
        assertThat(b.claim(q, "x@y.test")).isNull();
        a.release(q, "x@y.test", "not the token");
        assertThat(b.claim(q, "x@y.test")).as("only the holder's token releases").isNull();
        a.release(q, "x@y.test", held);
        String taken = b.claim(q, "x@y.test");
        assertThat(taken).as("released by its holder").isNotNull();
        b.markDelivered(q, "x@y.test");
        b.release(q, "x@y.test", taken);
        assertThat(a.claim(q, "x@y.test")).as("settled: not claimed again").isNull();
        assertThat(b.isDelivered(q, "x@y.test")).isTrue();
        assertThat(b.settled(q, "x@y.test")).isEqualTo(RecipientLedger.Settled.DELIVERED);
        b.markBounced(q, "refused@y.test");
        assertThat(a.settled(q, "refused@y.test")).isEqualTo(RecipientLedger.Settled.BOUNCED);
        assertThat(a.isDelivered(q, "refused@y.test")).isFalse();
        assertThat(a.settled(q, "other@y.test")).isEqualTo(RecipientLedger.Settled.NO);

        a.forget(q, "x@y.test");
        assertThat(b.settled(q, "x@y.test")).as("forgotten once its record is committed").isEqualTo(RecipientLedger.Settled.NO);
        // Read twice at once around a rebalance: one reading found it claimed and queued a second copy.
        b.keepCopies(q, "twice@y.test");
        assertThat(a.settled(q, "twice@y.test")).as("a copy noted is not settled").isEqualTo(RecipientLedger.Settled.NO);
        a.markDelivered(q, "twice@y.test");
        a.forget(q, "twice@y.test");
        assertThat(b.settled(q, "twice@y.test")).as("the second copy still finds it delivered")
                .isEqualTo(RecipientLedger.Settled.DELIVERED);
    }

    /**
     * A record's first reading deferred a recipient and queued a retry copy, but its offset was not
     * committed; a second reading after a rebalance delivered it, was committed and forgot it. The copy
     * must still find it delivered, until the copy horizon ends.
     */
    @Test
    void aRetryCopyFindsItsRecipientDeliveredByASecondReadingOfTheRecord() {
        HazelcastLedger a = new HazelcastLedger(members.get(0), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofSeconds(30), Duration.ofSeconds(3));
        HazelcastLedger b = new HazelcastLedger(members.get(1), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofSeconds(30), Duration.ofSeconds(3));
        QueueId q = QueueId.next(System.currentTimeMillis());
        a.keepCopies(q, "deferred@y.test"); // the first reading: deferred, a retry copy queued
        b.markDelivered(q, "deferred@y.test"); // the second reading
        b.forget(q, "deferred@y.test"); // its offset committed
        assertThat(a.settled(q, "deferred@y.test")).as("the retry copy's reading").isEqualTo(RecipientLedger.Settled.DELIVERED);
        a.forget(q, "deferred@y.test"); // the copy's own offset committed
        await().atMost(Duration.ofSeconds(15)).until(() -> a.settled(q, "deferred@y.test") == RecipientLedger.Settled.NO);

        a.markDelivered(q, "plain@y.test");
        a.forget(q, "plain@y.test");
        assertThat(b.settled(q, "plain@y.test")).as("without a copy, forget deletes at once").isEqualTo(RecipientLedger.Settled.NO);
    }

    /** Commits forget the recipients of many records in one call: settled entries go, copies and claims stay. */
    @Test
    void forgettingManyRecordsAtOnceKeepsWhatAnotherCopyOrReadingNeeds() {
        HazelcastLedger a = new HazelcastLedger(members.get(0), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5));
        HazelcastLedger b = new HazelcastLedger(members.get(1), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5));
        QueueId q1 = QueueId.next(System.currentTimeMillis());
        QueueId q2 = QueueId.next(System.currentTimeMillis());
        a.markDelivered(q1, "x@y.test");
        a.markBounced(q2, "z@y.test");
        a.markDelivered(q2, "copied@y.test");
        a.keepCopies(q2, "copied@y.test");
        String reading = b.claim(q1, "reading@y.test"); // a second reading of the record, going on now
        a.forget(Map.of(q1, List.of("x@y.test", "reading@y.test"), q2, List.of("z@y.test", "copied@y.test")));
        assertThat(b.settled(q1, "x@y.test")).isEqualTo(RecipientLedger.Settled.NO);
        assertThat(b.settled(q2, "z@y.test")).isEqualTo(RecipientLedger.Settled.NO);
        assertThat(b.settled(q2, "copied@y.test")).as("another copy is queued").isEqualTo(RecipientLedger.Settled.DELIVERED);
        assertThat(a.claim(q1, "reading@y.test")).as("the other reading's claim holds").isNull();
        b.release(q1, "reading@y.test", reading);
        assertThat(a.claim(q1, "reading@y.test")).isNotNull();
    }
}
