package net.mailrelay.deploy.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import java.util.List;
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
}
