package net.mailrelay.deploy.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.util.List;

/**
 * The Hazelcast member every relay process embeds, for shared soft state (the delivered-recipients
 * ledger now; limits and backoff later). Discovery is the TCP-IP member list (each member named, no
 * port ranges); multicast is off, and so is phoning home: the relay must not call out on its own.
 */
public final class HazelcastMember {

    private HazelcastMember() {
    }

    /**
     * @param members the other members, host:port; empty for a member on its own (standalone)
     */
    public static HazelcastInstance start(String clusterName, String bindAddress, int port, List<String> members) {
        Config c = new Config().setClusterName(clusterName);
        c.setProperty("hazelcast.logging.type", "slf4j");
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.shutdownhook.enabled", "false");
        c.getNetworkConfig().setPort(port).setPortAutoIncrement(members.isEmpty());
        if (bindAddress != null) {
            c.getNetworkConfig().getInterfaces().setEnabled(true).addInterface(bindAddress);
        }
        JoinConfig join = c.getNetworkConfig().getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(!members.isEmpty()).setMembers(members);
        return Hazelcast.newHazelcastInstance(c);
    }
}
