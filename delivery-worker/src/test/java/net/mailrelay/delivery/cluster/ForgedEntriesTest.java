package net.mailrelay.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.delivery.ledger.RecipientLedger.Settled;
import net.mailrelay.protocol.cluster.Seal;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.ClusterSecret;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 17: what an outsider writes into Hazelcast (the community edition lets in whoever has the
 * cluster name) must not lose mail. Values this cluster did not seal are read as absent: a "delivered"
 * or "bounced" mark, a claim, a delete order, a suppression. Real members; the forger is the second
 * member, writing the maps directly as a rogue member or client would.
 */
class ForgedEntriesTest {

    static List<HazelcastInstance> members;
    static HazelcastLedger ledger;

    @BeforeAll
    static void start() {
        members = TestMembers.cluster(2);
        ledger = new HazelcastLedger(members.get(0), ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofHours(1));
    }

    @AfterAll
    static void stop() {
        members.forEach(m -> m.getLifecycleService().terminate());
    }

    static HazelcastInstance forger() {
        return members.get(1);
    }

    @Test
    void aDeliveredMarkThisClusterDidNotSealIsAbsent() {
        QueueId q = QueueId.next(System.currentTimeMillis());
        var map = forger().<String, Object>getMap(HazelcastLedger.DELIVERED);
        long now = System.currentTimeMillis();
        map.set(q.value() + " old-format@x.test", (now << 3) | 1L);
        map.set(q.value() + " unsigned@x.test", "D" + now);
        map.set(q.value() + " bad-mac@x.test", "D" + now + "~AAAAAAAAAAAAAAAAAAAAAA");
        map.set(q.value() + " other-secret@x.test", Seal.random().seal(HazelcastLedger.DELIVERED, q.value() + " other-secret@x.test",
                "D" + now, now + 3_600_000));
        ledger.markDelivered(q, "genuine@x.test");
        map.set(q.value() + " copied@x.test", map.get(q.value() + " genuine@x.test"));
        map.set(q.value() + " bounced-forged@x.test", "B" + now + "~AAAAAAAAAAAAAAAAAAAAAA");

        for (String r : List.of("old-format@x.test", "unsigned@x.test", "bad-mac@x.test", "other-secret@x.test", "copied@x.test",
                "bounced-forged@x.test")) {
            assertThat(ledger.settled(q, r)).as(r).isEqualTo(Settled.NO);
        }
        assertThat(ledger.settled(q, "genuine@x.test")).isEqualTo(Settled.DELIVERED);
    }

    @Test
    void forgedMarksBesideAGenuineOneNeitherHideNorGrowIt() {
        QueueId q = QueueId.next(System.currentTimeMillis());
        String key = q.value() + " kept@x.test";
        var map = forger().<String, Object>getMap(HazelcastLedger.DELIVERED);
        ledger.markBounced(q, "kept@x.test");
        map.set(key, map.get(key) + " Dforged~AAAA " + "x".repeat(1000) + " Kforged~AAAA");
        ledger.keepCopies(q, "kept@x.test");
        assertThat(ledger.settled(q, "kept@x.test")).isEqualTo(Settled.BOUNCED);
        assertThat((String) map.get(key)).as("one mark per letter, nothing else").hasSizeLessThan(150);
    }

    @Test
    void aClaimThisClusterDidNotSealIsTakenOverEvenInTheNameOfAPresentMember() {
        QueueId q = QueueId.next(System.currentTimeMillis());
        String key = q.value() + " claimed@x.test";
        forger().<String, String>getMap(HazelcastLedger.DELIVERED).set(key, "C" + members.get(0).getCluster().getLocalMember()
                .getUuid() + "/forged~zzzzzzzz~AAAAAAAAAAAAAAAAAAAAAA");
        String token = ledger.claim(q, "claimed@x.test");
        assertThat(token).as("the forged claim does not hold the recipient back").isNotNull();
        assertThat(ledger.claim(q, "claimed@x.test")).as("and the genuine claim holds").isNull();
        ledger.release(q, "claimed@x.test", token);
    }

    @Test
    void anOrderThisClusterDidNotSealIsIgnored() {
        HazelcastRetryRequests retries = new HazelcastRetryRequests(members.get(0), Clock.systemUTC());
        HazelcastQueueControls controls = new HazelcastQueueControls(members.get(0), ClusterSecret.SEAL, retries,
                Duration.ofHours(1), Clock.systemUTC());
        String forged = QueueId.next(System.currentTimeMillis()).value();
        forger().<String, String>getMap(HazelcastQueueControls.ORDERS).set(forged, "DELETE");
        assertThat(controls.order(forged)).as("a forged delete order would drop the mail silently").isNull();
        String genuine = QueueId.next(System.currentTimeMillis()).value();
        controls.order(genuine, QueueControls.Order.DELETE);
        assertThat(controls.order(genuine)).isEqualTo(QueueControls.Order.DELETE);
    }
}
