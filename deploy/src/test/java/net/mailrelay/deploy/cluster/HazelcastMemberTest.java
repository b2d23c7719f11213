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
        assertThat(c.getNetworkConfig().getJoin().getTcpIpConfig().getMembers()).containsExactly("10.0.0.1:5701", "10.0.0.2:5701");
        assertThat(c.getNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
        assertThat(c.getNetworkConfig().getJoin().getKubernetesConfig().isEnabled()).isFalse();
        assertThat(c.getNetworkConfig().isPortAutoIncrement()).isFalse();
        assertThat(c.getProperty("hazelcast.phone.home.enabled")).isEqualTo("false");
    }

    @Test
    void kubernetesFindsThePodsOfAService() {
        Config c = HazelcastMember.config("relay", null, 5701, new HazelcastMember.Discovery.Kubernetes("relay-hz", "mail"));
        var k = c.getNetworkConfig().getJoin().getKubernetesConfig();
        assertThat(k.isEnabled()).isTrue();
        assertThat(k.getProperty("service-name")).isEqualTo("relay-hz");
        assertThat(k.getProperty("namespace")).isEqualTo("mail");
        assertThat(c.getNetworkConfig().getJoin().getTcpIpConfig().isEnabled()).isFalse();
        assertThat(c.getNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
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
