package net.mailrelay.deploy.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.LocalMapStats;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.edge.cluster.HazelcastClientGuard;
import net.mailrelay.protocol.cluster.Seal;
import net.mailrelay.protocol.envelope.QueueId;

/**
 * What an edge costs and holds as a lite member or as a data member of the workers' cluster, measured on
 * real members in this JVM (for {@code mail-relay bench edge-member}): the time of the cluster call an
 * edge makes per connection (the per-client connection count), and how much of the ledger lands on the
 * edge.
 */
public final class EdgeMemberCost {

    /** One measurement: per-connection call latency in microseconds, and the ledger entries and backups held by the edge. */
    public record Result(boolean lite, int members, long[] callMicros, long edgeOwned, long edgeBackups, long ledgerEntries) {
    }

    private EdgeMemberCost() {
    }

    public static Result measure(boolean lite, int workers, int calls, int ledgerEntries) throws Exception {
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i <= workers; i++) {
            try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
                ports.add(s.getLocalPort());
            }
        }
        List<String> addresses = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        String name = "edge-cost-" + UUID.randomUUID();
        List<HazelcastInstance> all = new ArrayList<>();
        try {
            for (int i = 0; i < workers; i++) {
                all.add(HazelcastMember.start(name, "127.0.0.1", ports.get(i), new HazelcastMember.Discovery.TcpIp(addresses), false));
            }
            HazelcastInstance edge = HazelcastMember.start(name, "127.0.0.1", ports.get(workers),
                    new HazelcastMember.Discovery.TcpIp(addresses), lite);
            all.add(edge);
            HazelcastClientGuard guard = new HazelcastClientGuard(edge, 1_000_000, 0, Duration.ofMinutes(15), Clock.systemUTC());
            for (int i = 0; i < 2_000; i++) { // warm-up
                guard.connectionAllowed(address(i)).toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
            long[] micros = new long[calls];
            for (int i = 0; i < calls; i++) {
                long t0 = System.nanoTime();
                guard.connectionAllowed(address(i)).toCompletableFuture().get(10, TimeUnit.SECONDS);
                micros[i] = (System.nanoTime() - t0) / 1_000;
            }
            HazelcastLedger ledger = new HazelcastLedger(all.get(0), Seal.random(), Duration.ofHours(1), Duration.ofHours(1));
            QueueId q = QueueId.next(System.currentTimeMillis());
            for (int i = 0; i < ledgerEntries; i++) {
                ledger.markDelivered(q, "r" + i + "@x.test");
            }
            LocalMapStats stats = edge.getMap(HazelcastLedger.DELIVERED).getLocalMapStats();
            return new Result(lite, workers + 1, micros, stats.getOwnedEntryCount(), stats.getBackupEntryCount(), ledgerEntries);
        } finally {
            all.forEach(h -> h.getLifecycleService().terminate());
        }
    }

    private static InetAddress address(int i) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, (byte) (i >> 16), (byte) (i >> 8), (byte) i});
    }
}
