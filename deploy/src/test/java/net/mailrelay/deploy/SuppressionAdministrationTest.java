package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.deploy.cluster.HazelcastIntruder;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

/**
 * The suppression list as an operator handles it: the CLI and the admin API read and write the compacted
 * topic, the worker feeds it into Hazelcast, and an edge in {@code suppression.mode=reject} refuses a
 * suppressed recipient at RCPT until it is taken off the list. Real broker, real Hazelcast members, real
 * sockets.
 */
@ExtendWith(KafkaFixture.class)
class SuppressionAdministrationTest {

    static final String TOKEN = "s3cret-admin-token";
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static String prefix;
    static String bootstrap;
    static RelayProcess worker;
    static RelayProcess edge;
    static String clusterName;
    static int workerHz;
    static int edgeHz;

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        bootstrap = kafka.bootstrapServers();
        prefix = "supp" + UUID.randomUUID().toString().substring(0, 6) + ".";
        workerHz = Ports.free();
        edgeHz = Ports.free();
        Map<String, String> common = new HashMap<>(Map.of(
                "kafka.bootstrap-servers", bootstrap, "kafka.topic-prefix", prefix,
                "kafka.partitions", "2", "kafka.replication-factor", "1", "kafka.min-insync-replicas", "1",
                "hostname", "relay.test", "http.port", "0", "admin.token", TOKEN));
        ClusterFiles cluster = ClusterFiles.make();
        clusterName = cluster.clusterName();
        common.putAll(Map.of("suppression.mode", "reject", "hazelcast.cluster-name", clusterName,
                "hazelcast.members", "127.0.0.1:" + workerHz + ",127.0.0.1:" + edgeHz));
        common.putAll(Map.of("smtp.bind-address", "127.0.0.1", "smtp.port", Integer.toString(Ports.free()),
                "smtp.tls", "none", "submission.port", "0", "smtps.port", "0"));
        Map<String, String> w = new HashMap<>(common);
        w.putAll(cluster.worker());
        w.put("hazelcast.port", Integer.toString(workerHz));
        w.put("http.port", Integer.toString(Ports.free()));
        w.put("http.bind-address", "127.0.0.1");
        Map<String, String> e = new HashMap<>(common);
        e.put("hazelcast.port", Integer.toString(edgeHz));
        worker = RelayProcess.start(RelayProcess.Role.WORKER, Settings.of(w));
        edge = RelayProcess.start(RelayProcess.Role.EDGE, Settings.of(e));
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {edge, worker}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    static String cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] full = new String[args.length + 4];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--bootstrap-servers";
        full[args.length + 1] = bootstrap;
        full[args.length + 2] = "--set";
        full[args.length + 3] = "kafka.topic-prefix=" + prefix;
        int exit = new CommandLine(new SuppressionCommand()).setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true)).execute(full);
        assertThat(exit).as("exit status; stderr: %s", err).isZero();
        return out.toString();
    }

    static HttpResponse<String> admin(String method, String query, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + worker.httpAddress().getPort()
                + "/admin/suppression" + query)).method(method, HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The edge's reply to RCPT for one address. */
    static String rcptReply(String address) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<alice@sender.test>");
            c.expect("250");
            c.send("RCPT TO:<" + address + ">");
            String reply = String.join("\n", c.readReply());
            c.send("QUIT");
            return reply;
        }
    }

    /** Issue 17: a Hazelcast client that knows the cluster name gets into neither the running worker nor the edge. */
    @Test
    void noHazelcastClientGetsIntoTheRunningWorkerOrEdge() throws Exception {
        for (String address : HazelcastIntruder.addresses()) {
            for (int port : new int[] {workerHz, edgeHz}) {
                assertThat(HazelcastIntruder.tryClient(clusterName, address, port)).as("a Hazelcast client at %s:%d", address, port)
                        .isEmpty();
            }
        }
    }

    @Test
    void theCliAddsListsAndRemovesAndTheEdgeFollows() {
        assertThat(rcptReply("Gone@Example.NET")).startsWith("250");
        cli("add", "--reason", "550 5.1.1 user unknown", "gone@example.net");
        assertThat(cli("list")).contains("gone@example.net").contains("550 5.1.1 user unknown");
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> rcptReply("Gone@Example.NET").startsWith("550 5.1.1"));
        assertThat(rcptReply("gone@example.net")).contains("suppressed");
        assertThat(rcptReply("someone-else@example.net")).startsWith("250");

        cli("remove", "GONE@example.net");
        assertThat(cli("list")).doesNotContain("gone@example.net");
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> rcptReply("gone@example.net").startsWith("250"));
    }

    @Test
    void theAdminApiNeedsItsTokenThenListsAddsAndRemoves() throws Exception {
        assertThat(admin("GET", "", null).statusCode()).isEqualTo(401);
        assertThat(admin("GET", "", "wrong").statusCode()).isEqualTo(401);
        assertThat(admin("DELETE", "", TOKEN).statusCode()).isEqualTo(400);

        assertThat(admin("POST", "?address=bounced%40example.org&reason=mailbox%20unknown", TOKEN).statusCode()).isEqualTo(200);
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> admin("GET", "", TOKEN).body().contains("bounced@example.org"));
        assertThat(admin("GET", "", TOKEN).body()).contains("mailbox unknown");
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> rcptReply("bounced@example.org").startsWith("550 5.1.1"));

        HttpResponse<String> removed = admin("DELETE", "?address=bounced%40example.org", TOKEN);
        assertThat(removed.statusCode()).isEqualTo(200);
        assertThat(removed.body()).contains("bounced@example.org");
        assertThat(admin("GET", "", TOKEN).body()).doesNotContain("bounced@example.org");
        assertThat(cli("list")).doesNotContain("bounced@example.org");
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> rcptReply("bounced@example.org").startsWith("250"));
    }
}
