package net.mailrelay.delivery.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import net.mailrelay.testing.Ports;
import org.awaitility.Awaitility;

/** Real Hazelcast members for tests, joined by a TCP-IP member list on loopback, as workers join. */
public final class TestMembers {

    private TestMembers() {
    }

    public static List<HazelcastInstance> cluster(int size) {
        String name = "test-" + UUID.randomUUID();
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            ports.add(Ports.free());
        }
        List<String> members = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<HazelcastInstance> out = new ArrayList<>();
        for (int port : ports) {
            Config c = new Config().setClusterName(name);
            c.setProperty("hazelcast.logging.type", "slf4j");
            c.setProperty("hazelcast.phone.home.enabled", "false");
            c.setProperty("hazelcast.wait.seconds.before.join", "0");
            c.getNetworkConfig().setPort(port).setPortAutoIncrement(false);
            c.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
            c.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
            c.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
            c.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).setMembers(members);
            out.add(Hazelcast.newHazelcastInstance(c));
        }
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60))
                .until(() -> out.stream().allMatch(h -> h.getCluster().getMembers().size() == size));
        return out;
    }
}
