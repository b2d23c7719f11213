package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 29, item 8: a ledger rebuild that fails (here Hazelcast takes 3 s to refuse to record the
 * coverage, as a member that does not answer does) is retried with a backoff, off the poll thread, and
 * the partitions the ledger covers keep flowing. Before, it was retried on every pass of the poll loop,
 * on the poll thread, and every partition of the worker waited on it. Real broker, real members.
 */
@ExtendWith(KafkaFixture.class)
class RebuildTroubleTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.dest.test");
    static List<HazelcastInstance> members;

    @BeforeAll
    static void start() {
        members = TestMembers.cluster(1);
    }

    @AfterAll
    static void stop() {
        members.forEach(HazelcastInstance::shutdown);
    }

    /** The ledger, but recording coverage takes 3 s and then fails while {@link #failing} is set; each try counted. */
    static final class SlowCoverage implements RecipientLedger {
        final RecipientLedger ledger;
        final AtomicBoolean failing = new AtomicBoolean(true);
        final AtomicInteger tries = new AtomicInteger();

        SlowCoverage(RecipientLedger ledger) {
            this.ledger = ledger;
        }

        @Override
        public void covered(Collection<String> partitions) {
            tries.incrementAndGet();
            try {
                Thread.sleep(3_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (failing.get()) {
                throw new IllegalStateException("no answer from Hazelcast (the test's)");
            }
            ledger.covered(partitions);
        }

        @Override
        public Set<String> uncovered(Collection<String> partitions) {
            return ledger.uncovered(partitions);
        }

        @Override
        public int restore(Collection<Entry> settled) {
            return ledger.restore(settled);
        }

        @Override
        public boolean isDelivered(QueueId q, String r) {
            return ledger.isDelivered(q, r);
        }

        @Override
        public Settled settled(QueueId q, String r) {
            return ledger.settled(q, r);
        }

        @Override
        public void markDelivered(QueueId q, String r) {
            ledger.markDelivered(q, r);
        }

        @Override
        public void markBounced(QueueId q, String r) {
            ledger.markBounced(q, r);
        }

        @Override
        public void keepCopies(QueueId q, String r) {
            ledger.keepCopies(q, r);
        }

        @Override
        public void forget(QueueId q, String r) {
            ledger.forget(q, r);
        }

        @Override
        public String claim(QueueId q, String r) {
            return ledger.claim(q, r);
        }

        @Override
        public boolean renew(QueueId q, String r, String token) {
            return ledger.renew(q, r, token);
        }

        @Override
        public void release(QueueId q, String r, String token) {
            ledger.release(q, r, token);
        }
    }

    @Test
    void aFailingRebuildBacksOffAndTheCoveredPartitionsKeepFlowing(KafkaBroker kafka) throws Exception {
        List<Duration> tiers = List.of(Duration.ofSeconds(2));
        Topics topics = kafka.freshTopics(tiers);
        // Every partition covered but outbound-1, which must be rebuilt when the worker is assigned it.
        var coverage = members.get(0).<String, Long>getMap(HazelcastLedger.COVERAGE);
        for (int p = 0; p < 3; p++) {
            if (p != 1) {
                coverage.put(topics.outbound() + "-" + p, System.currentTimeMillis());
            }
            coverage.put(topics.retryTier(tiers.get(0)) + "-" + p, System.currentTimeMillis());
        }
        SlowCoverage[] seen = new SlowCoverage[1];
        try (WorkerFixture w = new WorkerFixture(kafka, topics, members.get(0),
                new RetrySchedule(tiers, Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofHours(1)),
                List.of("dest.test=" + MX.hostPort()), null, 25, Map.of(), 0, Suppressions.NONE,
                l -> seen[0] = new SlowCoverage(l))) {
            SlowCoverage ledger = seen[0];
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> ledger.tries.get() >= 1);
            long t0 = System.nanoTime();
            QueueId stuck = w.enqueueTo(1, "waits-for-its-rebuild@dest.test");
            for (int i = 0; i < 3; i++) {
                String rcpt = "flows-" + i + "@dest.test";
                w.enqueueTo(i % 2 == 0 ? 0 : 2, rcpt);
                await().atMost(Duration.ofMillis(2_500)).pollInterval(Duration.ofMillis(20))
                        .until(() -> MX.deliveriesTo(rcpt).size() == 1);
            }
            assertThat(MX.deliveriesTo("waits-for-its-rebuild@dest.test")).as("its partition waits for the ledger").isEmpty();
            // The second try comes 5 s after the first failed (3 s), not at the next pass of the poll loop.
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(20)).until(() -> ledger.tries.get() >= 2);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("from the first try to the second")
                    .isGreaterThan(Duration.ofSeconds(7));
            ledger.failing.set(false); // the second try, still at its 3 s, succeeds
            await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("waits-for-its-rebuild@dest.test").size() == 1);
            assertThat(w.events(stuck)).hasSize(1);
        }
    }
}
