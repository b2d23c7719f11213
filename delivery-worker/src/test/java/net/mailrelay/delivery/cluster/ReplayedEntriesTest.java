package net.mailrelay.delivery.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.delivery.ledger.RecipientLedger.Settled;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.ClusterSecret;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Issue 29: a genuine sealed value, copied by any member and written back later, must not hold mail
 * back or drop it. Each value's seal binds its map, its key and an expiry; a claim names its member,
 * and a worker does not take a claim of its own that it has given up for another delivery's. Real
 * members; the replayer is the second member, writing the maps directly.
 */
class ReplayedEntriesTest {

    static List<HazelcastInstance> members;

    @BeforeAll
    static void start() {
        members = TestMembers.cluster(2);
    }

    @AfterAll
    static void stop() {
        members.forEach(m -> m.getLifecycleService().terminate());
    }

    static HazelcastInstance replayer() {
        return members.get(1);
    }

    static HazelcastLedger ledger(int member, Duration claimLease) {
        return new HazelcastLedger(members.get(member), ClusterSecret.SEAL, Duration.ofHours(1), claimLease);
    }

    /** Before: the copy, written back with no time to live, held the worker's own retry back until the recipient expired. */
    @Test
    void ourClaimWrittenBackAfterWeReleasedItDoesNotHoldOurRetryBack() {
        HazelcastLedger ledger = ledger(0, Duration.ofHours(1));
        QueueId q = QueueId.next(System.currentTimeMillis());
        String key = q.value() + " retried@x.test";
        IMap<String, String> claims = replayer().getMap(HazelcastLedger.DELIVERED);
        String token = ledger.claim(q, "retried@x.test");
        String copy = claims.get(key);
        ledger.release(q, "retried@x.test", token);
        claims.set(key, copy);

        String again = ledger.claim(q, "retried@x.test");
        assertThat(again).as("the retry claims the recipient").isNotNull();
        assertThat(ledger.claim(q, "retried@x.test")).as("and its claim holds against a second reading").isNull();
        ledger.release(q, "retried@x.test", again);
    }

    /** Before: a claim never expired by itself; only the entry's time to live, which the replayer chooses, did. */
    @Test
    void aClaimWrittenBackAfterItsLeaseDoesNotHoldAnotherWorkerBack() {
        HazelcastLedger shortLease = ledger(0, Duration.ofSeconds(2)); // Hazelcast counts times to live in seconds
        HazelcastLedger other = ledger(1, Duration.ofHours(1));
        QueueId q = QueueId.next(System.currentTimeMillis());
        String key = q.value() + " leased@x.test";
        IMap<String, String> claims = replayer().getMap(HazelcastLedger.DELIVERED);
        long claimed = System.currentTimeMillis();
        String token = shortLease.claim(q, "leased@x.test");
        String copy = claims.get(key);
        shortLease.release(q, "leased@x.test", token);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> System.currentTimeMillis() > claimed + 2_100);
        claims.set(key, copy);

        assertThat(other.claim(q, "leased@x.test")).as("member 0 is present, but its claim's lease is over").isNotNull();
    }

    @Test
    void aRecipientHeldBackByAnotherWorkersClaimIsLoggedWithTheHolder() {
        HazelcastLedger first = ledger(0, Duration.ofHours(1));
        HazelcastLedger second = ledger(1, Duration.ofHours(1));
        QueueId q = QueueId.next(System.currentTimeMillis());
        Logger log = (Logger) LoggerFactory.getLogger(HazelcastLedger.class);
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.start();
        log.addAppender(seen);
        try {
            String token = first.claim(q, "busy@x.test");
            assertThat(second.claim(q, "busy@x.test")).isNull();
            String holder = members.get(0).getCluster().getLocalMember().getUuid().toString();
            assertThat(seen.list).extracting(ILoggingEvent::getFormattedMessage).anySatisfy(m -> assertThat(m)
                    .startsWith(q.value() + ": to=<busy@x.test>: held back by the delivery claim of another worker")
                    .contains(holder));
            first.release(q, "busy@x.test", token);
        } finally {
            log.detachAppender(seen);
        }
    }

    /** Before: a delete order copied and written back after its lifetime still opened, and dropped the message silently. */
    @Test
    void anOrderWrittenBackAfterItsLifetimeIsIgnored() {
        HazelcastRetryRequests retries = new HazelcastRetryRequests(members.get(0), Clock.systemUTC());
        HazelcastQueueControls controls = new HazelcastQueueControls(members.get(0), ClusterSecret.SEAL, retries,
                Duration.ofSeconds(2), Clock.systemUTC());
        String q = QueueId.next(System.currentTimeMillis()).value();
        long ordered = System.currentTimeMillis();
        controls.order(q, QueueControls.Order.DELETE);
        IMap<String, String> orders = replayer().getMap(HazelcastQueueControls.ORDERS);
        String copy = orders.get(q);
        assertThat(controls.order(q)).isEqualTo(QueueControls.Order.DELETE);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> System.currentTimeMillis() > ordered + 2_100);
        orders.set(q, copy);
        assertThat(controls.order(q)).as("an order past its lifetime, written back").isNull();

        String other = QueueId.next(System.currentTimeMillis()).value();
        orders.set(other, copy);
        assertThat(controls.order(other)).as("copied to another message").isNull();
    }

    /** A genuine mark copied from one recipient's entry to another's, or a claim made into a mark, does not open. */
    @Test
    void aGenuineValueCopiedToAnotherKeyOrMapDoesNotOpen() {
        HazelcastLedger ledger = ledger(0, Duration.ofHours(1));
        QueueId q = QueueId.next(System.currentTimeMillis());
        IMap<String, String> delivered = replayer().getMap(HazelcastLedger.DELIVERED);
        ledger.markDelivered(q, "real@x.test");
        delivered.set(q.value() + " copied@x.test", delivered.get(q.value() + " real@x.test"));
        String token = ledger.claim(q, "claimed@x.test");
        delivered.set(q.value() + " claimed@x.test", "D" + delivered.get(q.value() + " claimed@x.test"));
        assertThat(ledger.settled(q, "copied@x.test")).isEqualTo(Settled.NO);
        assertThat(ledger.settled(q, "claimed@x.test")).isEqualTo(Settled.NO);
        assertThat(ledger.settled(q, "real@x.test")).isEqualTo(Settled.DELIVERED);
        ledger.release(q, "claimed@x.test", token);
    }
}
