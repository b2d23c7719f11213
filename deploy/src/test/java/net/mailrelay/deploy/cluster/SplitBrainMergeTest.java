package net.mailrelay.deploy.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.ledger.RecipientLedger.Settled;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.ClusterSecret;
import net.mailrelay.testing.Ports;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Issue 17: a split brain heals without dropping marks. Two members of one cluster name start apart,
 * as the halves of a split are, each writing its own marks for the same recipient; when one finds the
 * other, Hazelcast merges the smaller half into the larger with the relay's merge policy. The ledger
 * then keeps both halves' marks. With Hazelcast's default (put if absent) one half's mark was lost.
 */
class SplitBrainMergeTest {

    static Config fastMerge(Config c) {
        return c.setProperty("hazelcast.merge.first.run.delay.seconds", "2").setProperty("hazelcast.merge.next.run.delay.seconds", "2");
    }

    @Test
    void theLedgerKeepsTheMarksOfBothHalves() {
        int a = Ports.free();
        int b = Ports.free();
        String name = "split-" + UUID.randomUUID();
        List<HazelcastInstance> members = new ArrayList<>();
        try {
            // b knows both but starts while a is down, so it forms a cluster of its own; a, started next, knows only
            // itself and forms another. b's split-brain check then finds a, and the two merge.
            HazelcastInstance hb = Hazelcast.newHazelcastInstance(fastMerge(HazelcastMember.config(name, "127.0.0.1", b,
                    new HazelcastMember.Discovery.TcpIp(List.of("127.0.0.1:" + a, "127.0.0.1:" + b))))
                    .setProperty("hazelcast.max.join.seconds", "3"));
            members.add(hb);
            HazelcastLedger onB = new HazelcastLedger(hb, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofHours(1));
            QueueId q = QueueId.next(System.currentTimeMillis());
            onB.markDelivered(q, "both@x.test");
            onB.markBounced(q, "only-b@x.test");

            HazelcastInstance ha = Hazelcast.newHazelcastInstance(fastMerge(HazelcastMember.config(name, "127.0.0.1", a,
                    new HazelcastMember.Discovery.TcpIp(List.of("127.0.0.1:" + a)))));
            members.add(ha);
            if (ha.getCluster().getMembers().size() == 2) {
                throw new IllegalStateException("a joined b at once: no split to heal");
            }
            HazelcastLedger onA = new HazelcastLedger(ha, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofHours(1));
            onA.keepCopies(q, "both@x.test");
            onA.markDelivered(q, "only-a@x.test");

            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> members.stream().allMatch(m -> m.getLifecycleService().isRunning() && m.getCluster().getMembers().size() == 2));
            HazelcastInstance any = members.stream().filter(m -> m.getLifecycleService().isRunning()).findFirst().orElseThrow();
            HazelcastLedger healed = new HazelcastLedger(any, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofHours(1));
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                assertThat(healed.settled(q, "both@x.test")).as("b's delivered mark, beside a's keep mark").isEqualTo(Settled.DELIVERED);
                assertThat(healed.settled(q, "only-a@x.test")).isEqualTo(Settled.DELIVERED);
                assertThat(healed.settled(q, "only-b@x.test")).isEqualTo(Settled.BOUNCED);
                assertThat(String.valueOf(any.getMap(HazelcastLedger.DELIVERED).get(q.value() + " both@x.test")))
                        .as("a's keep mark, beside b's delivered mark").containsPattern("(^| )K");
            });
        } finally {
            members.forEach(m -> m.getLifecycleService().terminate());
        }
    }
}
