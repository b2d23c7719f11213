package net.mailrelay.deploy.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.edge.cluster.HazelcastClientGuard;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.ClusterSecret;
import net.mailrelay.testing.Ports;
import org.junit.jupiter.api.Test;

/**
 * Issue 17: edges face the internet, so they are Hazelcast lite members. They hold no share of the
 * ledger (no partition, no backup), and the per-client limits they share still count across edges,
 * on the workers' members. Real members on loopback.
 */
class LiteEdgesTest {

    @Test
    void liteEdgesHoldNoLedgerAndStillShareTheirPerClientLimits() throws Exception {
        List<Integer> ports = List.of(Ports.free(), Ports.free(), Ports.free());
        List<String> all = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        String name = "lite-" + UUID.randomUUID();
        List<HazelcastInstance> members = new ArrayList<>();
        try {
            HazelcastInstance edgeA = HazelcastMember.start(name, "127.0.0.1", ports.get(0), new HazelcastMember.Discovery.TcpIp(all), true);
            members.add(edgeA);
            HazelcastInstance edgeB = HazelcastMember.start(name, "127.0.0.1", ports.get(1), new HazelcastMember.Discovery.TcpIp(all), true);
            members.add(edgeB);
            InetAddress client = InetAddress.getByName("192.0.2.7");
            HazelcastClientGuard guardA = new HazelcastClientGuard(edgeA, 4, 3, Duration.ofMinutes(15), Clock.systemUTC());
            HazelcastClientGuard guardB = new HazelcastClientGuard(edgeB, 4, 0, Duration.ofMinutes(15), Clock.systemUTC());

            // No worker yet: the edges have nowhere to count, and say so at once instead of hanging (the
            // connection handler then lets the client in: soft state).
            CompletableFuture<Boolean> nowhere = guardA.connectionAllowed(client).toCompletableFuture();
            assertThat(nowhere).failsWithin(5, TimeUnit.SECONDS);
            assertThat(guardA.authBlocked(client).toCompletableFuture().get(5, TimeUnit.SECONDS))
                    .as("AUTH goes on without the failure count").isFalse();

            HazelcastInstance worker = HazelcastMember.start(name, "127.0.0.1", ports.get(2), new HazelcastMember.Discovery.TcpIp(all), false);
            members.add(worker);
            List<Boolean> answers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                HazelcastClientGuard g = i % 2 == 0 ? guardA : guardB;
                answers.add(g.connectionAllowed(client).toCompletableFuture().get(10, TimeUnit.SECONDS));
            }
            assertThat(answers).as("four connections a minute, counted across both edges").containsExactly(true, true, true, true,
                    false, false);

            HazelcastLedger ledger = new HazelcastLedger(worker, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofHours(1));
            QueueId q = QueueId.next(System.currentTimeMillis());
            for (int i = 0; i < 500; i++) {
                ledger.markDelivered(q, "r" + i + "@x.test");
            }
            for (HazelcastInstance edge : List.of(edgeA, edgeB)) {
                assertThat(edge.getCluster().getLocalMember().isLiteMember()).isTrue();
                var stats = edge.getMap(HazelcastLedger.DELIVERED).getLocalMapStats();
                assertThat(stats.getOwnedEntryCount() + stats.getBackupEntryCount()).as("ledger entries on an edge").isZero();
            }
            assertThat(worker.getMap(HazelcastLedger.DELIVERED).getLocalMapStats().getOwnedEntryCount()).isEqualTo(500);
        } finally {
            members.forEach(m -> m.getLifecycleService().terminate());
        }
    }
}
