package net.mailrelay.deploy.cluster;

import com.hazelcast.config.AdvancedNetworkConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.ServerSocketEndpointConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.util.List;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.cluster.LedgerMergePolicy;

/**
 * The Hazelcast member every relay process embeds, for shared soft state (the delivered-recipients
 * ledger, delivery claims, connection slots, destination health and rates, per-client counters of the
 * edge). Discovery is a TCP-IP member list (each member named, no port ranges) or, in a cluster,
 * Kubernetes; multicast is off, and so is phoning home: the relay must not call out on its own.
 *
 * <p>The community edition has no member authentication and no TLS, so a member opens as little as it
 * can: only the member endpoint (advanced networking with no client endpoint, so no Hazelcast client can
 * connect and read or write the relay's maps), and, given a bind address, a server socket on that
 * address alone instead of on every interface. Standalone binds to loopback.
 *
 * <p>Edges are lite members: they face the internet, so they hold no partition of any map (not a share
 * of the ledger, not a backup) and reach the workers' members for the per-client counters they share.
 * docs/queue.md ("Edges are lite members") has why, and what it costs.
 */
public final class HazelcastMember {

    private HazelcastMember() {
    }

    /** How members find each other. */
    public sealed interface Discovery {
        /** A fixed list of members, host:port each; empty for a member on its own (standalone). */
        record TcpIp(List<String> members) implements Discovery {
        }

        /** The pods behind a Kubernetes service, found through the Kubernetes API (Hazelcast's built-in plugin). */
        record Kubernetes(String serviceName, String namespace) implements Discovery {
        }
    }

    public static HazelcastInstance start(String clusterName, String bindAddress, int port, Discovery discovery) {
        return start(clusterName, bindAddress, port, discovery, false);
    }

    /** @param lite a member that holds no data (an edge) */
    public static HazelcastInstance start(String clusterName, String bindAddress, int port, Discovery discovery, boolean lite) {
        return Hazelcast.newHazelcastInstance(config(clusterName, bindAddress, port, discovery).setLiteMember(lite));
    }

    static Config config(String clusterName, String bindAddress, int port, Discovery discovery) {
        List<String> members = discovery instanceof Discovery.TcpIp t ? t.members() : List.of();
        Config c = new Config().setClusterName(clusterName);
        c.setProperty("hazelcast.logging.type", "slf4j");
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.shutdownhook.enabled", "false");
        // Two synchronous backups of the relay's maps, on the workers (edges are lite members): losing
        // two workers at once must not lose a partition of the delivered-recipients ledger (with the
        // default single backup both copies could be on those two, and every record they covered would
        // be delivered again).
        c.addMapConfig(new MapConfig("mailrelay.*").setBackupCount(2));
        // After a split brain heals, an entry of the ledger that both halves wrote keeps both halves' marks
        // (LedgerMergePolicy); every other map keeps put-if-absent, Hazelcast's default (docs/queue.md,
        // "Split brain"). No map has split-brain protection, on purpose: a worker cut off from the other
        // members still owns its Kafka partitions, and refusing it the ledger would only cost duplicates.
        MapConfig ledger = new MapConfig(HazelcastLedger.DELIVERED).setBackupCount(2);
        ledger.getMergePolicyConfig().setPolicy(LedgerMergePolicy.class.getName());
        c.addMapConfig(ledger);
        ServerSocketEndpointConfig member = new ServerSocketEndpointConfig();
        member.setPort(port).setPortAutoIncrement(discovery instanceof Discovery.TcpIp && members.isEmpty());
        if (bindAddress != null && !bindAddress.isBlank()) {
            member.getInterfaces().setEnabled(true).addInterface(bindAddress);
            // Interfaces alone only pick the address the member announces; it still listens on all of them.
            c.setProperty("hazelcast.socket.bind.any", "false");
            c.setProperty("hazelcast.socket.server.bind.any", "false");
        }
        AdvancedNetworkConfig network = c.getAdvancedNetworkConfig().setEnabled(true).setMemberEndpointConfig(member);
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(!members.isEmpty()).setMembers(members);
        if (discovery instanceof Discovery.Kubernetes k) {
            var kubernetes = join.getKubernetesConfig().setEnabled(true).setProperty("service-name", k.serviceName());
            if (!k.namespace().isBlank()) {
                kubernetes.setProperty("namespace", k.namespace());
            }
        }
        return c;
    }
}
