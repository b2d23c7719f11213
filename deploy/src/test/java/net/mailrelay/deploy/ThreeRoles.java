package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;

/**
 * A bounce service, a worker and an edge wired as separate processes would be, by {@link RelayProcess}
 * from {@link Settings}, on one broker, with a sealed cluster of their own: the whole path for end-to-end
 * tests. The worker finds MX hosts through the test's DNS responder and reaches each fake MX on the
 * same port on its own loopback address, as real MX hosts all listen on 25.
 */
final class ThreeRoles implements AutoCloseable {

    final RelayProcess bounce;
    final RelayProcess worker;
    final RelayProcess edge;

    private ThreeRoles(RelayProcess bounce, RelayProcess worker, RelayProcess edge) {
        this.bounce = bounce;
        this.worker = worker;
        this.edge = edge;
    }

    /**
     * The settings every role shares: 1-second retry tier and backoff, no TLS on the edge, hostname
     * relay.test, the given topic prefix and Hazelcast port; {@code extra} adds to them or overrides them.
     */
    static ThreeRoles start(KafkaBroker kafka, DnsResponder dns, int mxPort, String topicPrefix, int hazelcastPort,
            Map<String, String> extra) throws Exception {
        Map<String, String> common = new HashMap<>(Map.of(
                "kafka.bootstrap-servers", kafka.bootstrapServers(), "kafka.topic-prefix", topicPrefix,
                "kafka.partitions", "3", "kafka.replication-factor", "1", "kafka.min-insync-replicas", "1",
                "hostname", "relay.test", "http.port", "0", "hazelcast.port", Integer.toString(hazelcastPort)));
        common.putAll(Map.of("queue.retry-tiers", "1s", "queue.min-backoff", "1s", "queue.max-backoff", "1s",
                "dns.server", dns.hostPort(), "delivery.mx-port", Integer.toString(mxPort),
                "smtp.bind-address", "127.0.0.1", "smtp.port", Integer.toString(Ports.free())));
        common.putAll(Map.of("smtp.tls", "none", "submission.port", "0", "smtps.port", "0"));
        common.putAll(extra);
        RelayProcess bounce = RelayProcess.start(RelayProcess.Role.BOUNCE, Settings.of(common));
        ClusterFiles cluster = ClusterFiles.make();
        Map<String, String> w = new HashMap<>(common);
        w.putAll(cluster.worker());
        RelayProcess worker = RelayProcess.start(RelayProcess.Role.WORKER, Settings.of(w));
        Map<String, String> e = new HashMap<>(common);
        e.putAll(cluster.edge());
        return new ThreeRoles(bounce, worker, RelayProcess.start(RelayProcess.Role.EDGE, Settings.of(e)));
    }

    static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sends one message through the edge and returns its queue id. */
    String send(String from, List<String> to, String message) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220");
            c.send("EHLO client.test");
            c.expect("250 ");
            String reply = c.sendMessage(from, to, message);
            assertThat(reply).startsWith("250 2.0.0 Ok: queued as ");
            c.send("QUIT");
            c.expect("221");
            return reply.substring("250 2.0.0 Ok: queued as ".length());
        }
    }

    /** Stops the edge, the worker and the bounce service, best effort. */
    @Override
    public void close() {
        for (AutoCloseable c : new AutoCloseable[] {edge, worker, bounce}) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
