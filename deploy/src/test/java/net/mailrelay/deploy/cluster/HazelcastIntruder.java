package net.mailrelay.deploy.cluster;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.core.HazelcastInstance;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Someone who knows the cluster name and tries a Hazelcast client against a relay's member port, as
 * anyone on the network could (issue 17). The relay's members open no client endpoint, so this must fail.
 */
public final class HazelcastIntruder {

    private HazelcastIntruder() {
    }

    /** The maps the client could list, when it got in; empty when it was kept out (within 3 s). */
    public static Optional<List<String>> tryClient(String clusterName, String address, int port) {
        ClientConfig cc = new ClientConfig().setClusterName(clusterName);
        cc.getNetworkConfig().addAddress(address + ":" + port);
        cc.getConnectionStrategyConfig().getConnectionRetryConfig().setClusterConnectTimeoutMillis(3_000);
        cc.setProperty("hazelcast.logging.type", "slf4j");
        HazelcastInstance client;
        try {
            client = HazelcastClient.newHazelcastClient(cc);
        } catch (IllegalStateException refused) {
            return Optional.empty();
        }
        try {
            return Optional.of(client.getDistributedObjects().stream().map(o -> o.getName()).toList());
        } finally {
            client.shutdown();
        }
    }

    /** 127.0.0.1 and this machine's other IPv4 addresses: where an intruder on the network would knock. */
    public static List<String> addresses() throws SocketException {
        List<String> out = new ArrayList<>(List.of("127.0.0.1"));
        for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!n.isUp() || n.isLoopback()) {
                continue;
            }
            for (InetAddress a : Collections.list(n.getInetAddresses())) {
                if (a instanceof Inet4Address) {
                    out.add(a.getHostAddress());
                }
            }
        }
        return out;
    }
}
