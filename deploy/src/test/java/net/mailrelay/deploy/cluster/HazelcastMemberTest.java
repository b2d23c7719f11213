package net.mailrelay.deploy.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import net.mailrelay.testing.Ports;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class HazelcastMemberTest {

    @Test
    void tcpIpListsEveryMemberAndNeverMulticasts() {
        Config c = HazelcastMember.config("relay", null, 5701,
                new HazelcastMember.Discovery.TcpIp(List.of("10.0.0.1:5701", "10.0.0.2:5701")));
        assertThat(c.getAdvancedNetworkConfig().getJoin().getTcpIpConfig().getMembers()).containsExactly("10.0.0.1:5701", "10.0.0.2:5701");
        assertThat(c.getAdvancedNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
        assertThat(c.getAdvancedNetworkConfig().getJoin().getKubernetesConfig().isEnabled()).isFalse();
        assertThat(c.getAdvancedNetworkConfig().isEnabled()).isTrue();
        assertThat(c.getAdvancedNetworkConfig().getEndpointConfigs()).as("endpoints: the member's only").hasSize(1);
        assertThat(((com.hazelcast.config.ServerSocketEndpointConfig) c.getAdvancedNetworkConfig().getEndpointConfigs()
                .values().iterator().next()).isPortAutoIncrement()).isFalse();
        assertThat(c.getProperty("hazelcast.phone.home.enabled")).isEqualTo("false");
    }

    @Test
    void kubernetesFindsThePodsOfAService() {
        Config c = HazelcastMember.config("relay", null, 5701, new HazelcastMember.Discovery.Kubernetes("relay-hz", "mail"));
        var k = c.getAdvancedNetworkConfig().getJoin().getKubernetesConfig();
        assertThat(k.isEnabled()).isTrue();
        assertThat(k.getProperty("service-name")).isEqualTo("relay-hz");
        assertThat(k.getProperty("namespace")).isEqualTo("mail");
        assertThat(c.getAdvancedNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isFalse();
        assertThat(c.getAdvancedNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
    }

    /**
     * Issue 17: a Hazelcast client with the right cluster name must not get into a standalone member
     * (bound to loopback) nor into a cluster role's member (bound to every interface): before, it
     * connected through the member port and could read and write the ledger.
     */
    @Test
    void noHazelcastClientGetsIntoAStandaloneOrAClusterMember() {
        int standalonePort = Ports.free();
        int workerPort = Ports.free();
        List<HazelcastInstance> hz = new ArrayList<>();
        try {
            hz.add(HazelcastMember.start("closed-" + standalonePort, "127.0.0.1", standalonePort,
                    new HazelcastMember.Discovery.TcpIp(List.of())));
            hz.add(HazelcastMember.start("closed-" + workerPort, null, workerPort,
                    new HazelcastMember.Discovery.TcpIp(List.of("127.0.0.1:" + workerPort))));
            hz.forEach(h -> h.getMap("mailrelay.delivered").set("q1 rcpt@example.org", 1L));
            for (int i = 0; i < hz.size(); i++) {
                int port = i == 0 ? standalonePort : workerPort;
                assertThat(HazelcastIntruder.tryClient("closed-" + port, "127.0.0.1", port)).as("a client of the member on port %d",
                        port).isEmpty();
            }
        } finally {
            hz.forEach(h -> h.getLifecycleService().terminate());
            com.hazelcast.client.HazelcastClient.shutdownAll();
        }
    }

    /** Standalone's member listens on loopback alone, not on every interface (it was reachable from the network). */
    @Test
    void aMemberGivenABindAddressListensThereAlone() throws Exception {
        int port = Ports.free();
        HazelcastInstance h = HazelcastMember.start("bound-" + port, "127.0.0.1", port,
                new HazelcastMember.Discovery.TcpIp(List.of()));
        try {
            List<String> listening = listeners(port);
            assertThat(listening).as("sockets listening on port %d", port).isNotEmpty().allMatch(a -> a.equals("0100007F"));
        } finally {
            h.getLifecycleService().terminate();
        }
    }

    /** The local addresses (hex, as the kernel writes them) of the sockets listening on this TCP port. */
    private static List<String> listeners(int port) throws java.io.IOException {
        List<String> out = new ArrayList<>();
        String hexPort = String.format("%04X", port);
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            java.nio.file.Path p = java.nio.file.Path.of(table);
            if (!java.nio.file.Files.exists(p)) {
                continue;
            }
            for (String line : java.nio.file.Files.readAllLines(p)) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 3 && f[1].endsWith(":" + hexPort) && f[3].equals("0A")) { // 0A: LISTEN
                    String addr = f[1].substring(0, f[1].indexOf(':'));
                    // An IPv4-mapped loopback in tcp6 counts as loopback too.
                    out.add(addr.equals("0000000000000000FFFF00000100007F") ? "0100007F" : addr);
                }
            }
        }
        return out;
    }

    /** An edge and a worker killed at once (the fault suite's "all") must not take ledger entries with them. */
    @Test
    void theRelaysMapsSurviveTheLossOfTwoMembersAtOnce() {
        List<Integer> ports = IntStream.range(0, 3).mapToObj(i -> Ports.free()).toList();
        List<String> members = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<HazelcastInstance> hz = new ArrayList<>();
        try {
            for (int port : ports) {
                hz.add(HazelcastMember.start("backups-" + ports.get(0), "127.0.0.1", port,
                        new HazelcastMember.Discovery.TcpIp(members)));
            }
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> hz.get(0).getCluster().getMembers().size() == 3);
            IMap<String, Long> ledger = hz.get(0).getMap("mailrelay.delivered");
            for (int i = 0; i < 500; i++) {
                ledger.set("q" + i + " rcpt@example.org", (long) i);
            }
            hz.get(1).getLifecycleService().terminate(); // no goodbye: as SIGKILL
            hz.get(2).getLifecycleService().terminate();
            IMap<String, Long> survivor = hz.get(0).getMap("mailrelay.delivered");
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> hz.get(0).getCluster().getMembers().size() == 1);
            assertThat(IntStream.range(0, 500).filter(i -> !survivor.containsKey("q" + i + " rcpt@example.org")).count())
                    .as("entries lost with the two members").isZero();
        } finally {
            hz.forEach(h -> h.getLifecycleService().terminate());
        }
    }
}
