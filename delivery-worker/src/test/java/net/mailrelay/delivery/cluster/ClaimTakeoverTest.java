package net.mailrelay.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.ClusterSecret;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A worker that dies in the middle of a delivery must not hold its recipients back for the length of the
 * claim lease: once Hazelcast has dropped it from the cluster, a survivor takes its claims over.
 */
class ClaimTakeoverTest {

    static List<HazelcastInstance> members;

    @BeforeAll
    static void start() {
        members = TestMembers.cluster(3);
    }

    @AfterAll
    static void stop() {
        members.forEach(m -> m.getLifecycleService().terminate());
    }

    @Test
    void aClaimOfAMemberThatIsNotInTheClusterIsTakenOverAtOnce() {
        HazelcastLedger ledger = new HazelcastLedger(members.get(1), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofHours(1));
        QueueId q = QueueId.next(System.currentTimeMillis());
        String key = q.value() + " gone@y.test";
        members.get(1).<String, String>getMap(HazelcastLedger.DELIVERED).put(key, ClusterSecret.SEAL.seal(HazelcastLedger.DELIVERED,
                key, "C" + UUID.randomUUID() + "/token", System.currentTimeMillis() + 3_600_000));
        assertThat(ledger.claim(q, "gone@y.test")).isNotNull();
        assertThat(ledger.claim(q, "gone@y.test")).as("now held by the survivor").isNull();
    }

    /**
     * Issue 15, defect 6: a delivery that outlasts a session limit renews its claims, so that its lease
     * never runs out under it; a claim nobody renews runs out, and its old holder cannot renew it then.
     */
    @Test
    void aRenewedClaimOutlivesItsFirstLease() {
        HazelcastLedger holder = new HazelcastLedger(members.get(0), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofSeconds(2));
        HazelcastLedger other = new HazelcastLedger(members.get(1), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofSeconds(2));
        QueueId q = QueueId.next(System.currentTimeMillis());
        String token = holder.claim(q, "long@y.test");
        assertThat(token).isNotNull();
        Awaitility.await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(6)).pollInterval(Duration.ofMillis(500))
                .until(() -> holder.renew(q, "long@y.test", token) && other.claim(q, "long@y.test") == null);
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                .until(() -> other.claim(q, "long@y.test") != null);
        assertThat(holder.renew(q, "long@y.test", token)).as("the lease ran out and another delivery took it").isFalse();
    }

    @Test
    void theClaimsOfAWorkerKilledMidDeliveryAreTakenOverOnceItLeavesTheCluster() {
        HazelcastLedger doomed = new HazelcastLedger(members.get(2), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(30));
        HazelcastLedger survivor = new HazelcastLedger(members.get(0), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(30));
        QueueId q = QueueId.next(System.currentTimeMillis());
        assertThat(doomed.claim(q, "inflight@y.test")).isNotNull();
        assertThat(survivor.claim(q, "inflight@y.test")).isNull();

        members.get(2).getLifecycleService().terminate(); // no graceful release: as a SIGKILL
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> survivor.claim(q, "inflight@y.test") != null);
        assertThat(members.get(1).getCluster().getMembers()).hasSize(2);
    }
}
