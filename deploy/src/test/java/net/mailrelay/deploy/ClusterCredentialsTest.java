package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.hazelcast.core.HazelcastInstance;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.ledger.RecipientLedger.Settled;
import net.mailrelay.deploy.cluster.ClusterCredentials;
import net.mailrelay.deploy.cluster.ClusterCredentials.Holder;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.deploy.cluster.HazelcastMember;
import net.mailrelay.deploy.config.ConfigException;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.cluster.Seal;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.testing.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Issue 29, the seal's first two items: no seal key is ever derived from something an outsider can
 * know, cluster roles do not join with the default name, and edges hold no key. Before, a worker started
 * without hazelcast.secret-file derived its key from the cluster name (default {@code mail-relay}), so
 * anyone who reached port 5701 could forge a "delivered" mark and the recipient was silently skipped.
 */
class ClusterCredentialsTest {

    static final String NAME = "a-cluster-name-of-32-characters!";

    record Run(int status, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = MailRelay.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        // A role that got past its checks would wait for Kafka at 127.0.0.1:1 for ever: the timeout fails it.
        int status = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> cmd.execute(args));
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void secretGenerateWrites256RandomBitsToANewPrivateFileAndNeverOverwrites(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("seal");
        Run made = run("secret", "generate", "--file", file.toString());
        assertThat(made.status()).as(made.err()).isZero();
        assertThat(Files.readString(file)).matches("[0-9a-f]{64}\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        String first = Files.readString(file);

        Run again = run("secret", "generate", "--file", file.toString());
        assertThat(again.status()).isEqualTo(2);
        assertThat(again.err()).contains("already exists");
        assertThat(Files.readString(file)).as("kept").isEqualTo(first);
        Path other = dir.resolve("other");
        assertThat(run("secret", "generate", "--file", other.toString()).status()).isZero();
        assertThat(Files.readString(other)).as("random").isNotEqualTo(first);
    }

    @Test
    void aWorkerWithoutTheSecretFileDoesNotStartAndSaysHowToMakeOne() {
        Run r = run("worker", "--bootstrap-servers", "127.0.0.1:1", "--set", "hazelcast.cluster-name=" + NAME);
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("hazelcast.secret-file").contains("secret generate --file");
    }

    @Test
    void edgesAndWorkersRefuseTheDefaultClusterNameAndAShortOne(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("seal");
        Files.writeString(secret, "x".repeat(64));
        for (String role : List.of("edge", "worker")) {
            List<String> base = new ArrayList<>(List.of(role, "--bootstrap-servers", "127.0.0.1:1"));
            if (role.equals("worker")) {
                base.addAll(List.of("--set", "hazelcast.secret-file=" + secret));
            }
            Run byDefault = run(base.toArray(String[]::new));
            assertThat(byDefault.status()).as(role).isEqualTo(2);
            assertThat(byDefault.err()).as(role).contains("default cluster name").contains("secret generate");
            base.addAll(List.of("--set", "hazelcast.cluster-name=prod"));
            Run shortName = run(base.toArray(String[]::new));
            assertThat(shortName.status()).as(role).isEqualTo(2);
            assertThat(shortName.err()).as(role).contains("at least 16");
        }
    }

    @Test
    void anEdgeRefusesTheSealKey(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("seal");
        Files.writeString(secret, "x".repeat(64));
        Run r = run("edge", "--bootstrap-servers", "127.0.0.1:1", "--set", "hazelcast.cluster-name=" + NAME,
                "--set", "hazelcast.secret-file=" + secret);
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("an edge holds no seal key");
        assertThat(ClusterCredentials.seal(Settings.of(Map.of("hazelcast.cluster-name", NAME)), Holder.EDGE))
                .as("an edge without the file: no seal at all").isNull();
    }

    @Test
    void theClusterNameComesFromAFileAndNotFromBothPlaces(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("name");
        Files.writeString(file, NAME + "\n");
        assertThat(ClusterCredentials.clusterName(Settings.of(Map.of("hazelcast.cluster-name-file", file.toString())), Holder.EDGE))
                .isEqualTo(NAME);
        assertThatThrownBy(() -> ClusterCredentials.clusterName(Settings.of(Map.of("hazelcast.cluster-name-file", file.toString(),
                "hazelcast.cluster-name", NAME)), Holder.WORKER)).isInstanceOf(ConfigException.class).hasMessageContaining("not both");
        assertThat(ClusterCredentials.clusterName(Settings.of(Map.of()), Holder.STANDALONE)).as("standalone, on loopback")
                .isEqualTo("mail-relay");
    }

    /**
     * A compromised edge knows the cluster name and everything in its configuration, and joins as a
     * member. Whatever key it can make from that (the old derived one included), a "delivered" mark it
     * writes does not open for the workers, whose key came from a file it never saw.
     */
    @Test
    void aCompromisedEdgeThatKnowsTheNameCannotForgeAMarkThatOpens(@TempDir Path dir) throws Exception {
        ClusterFiles files = ClusterFiles.in(dir);
        Settings workerSettings = Settings.of(files.worker());
        Settings edgeSettings = Settings.of(files.edge());
        Seal workerSeal = ClusterCredentials.seal(workerSettings, Holder.WORKER);
        List<Integer> ports = List.of(Ports.free(), Ports.free());
        List<String> all = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<HazelcastInstance> members = new ArrayList<>();
        try {
            HazelcastInstance worker = HazelcastMember.start(ClusterCredentials.clusterName(workerSettings, Holder.WORKER),
                    "127.0.0.1", ports.get(0), new HazelcastMember.Discovery.TcpIp(all), false);
            members.add(worker);
            String edgeName = ClusterCredentials.clusterName(edgeSettings, Holder.EDGE);
            HazelcastInstance edge = HazelcastMember.start(edgeName, "127.0.0.1", ports.get(1),
                    new HazelcastMember.Discovery.TcpIp(all), true);
            members.add(edge);
            assertThat(edge.getCluster().getMembers()).as("the edge is in").hasSize(2);

            HazelcastLedger ledger = new HazelcastLedger(worker, workerSeal, Duration.ofHours(1), Duration.ofHours(1));
            QueueId q = QueueId.next(System.currentTimeMillis());
            List<Seal> guesses = new ArrayList<>();
            guesses.add(Seal.of(MessageDigest.getInstance("SHA-256").digest(("mail-relay cluster seal\0" + edgeName)
                    .getBytes(StandardCharsets.UTF_8))));
            guesses.add(Seal.of(edgeName.getBytes(StandardCharsets.UTF_8)));
            Map<String, Object> forged = new HashMap<>();
            for (int i = 0; i < guesses.size(); i++) {
                String key = q.value() + " victim" + i + "@x.test";
                forged.put(key, guesses.get(i).seal(HazelcastLedger.DELIVERED, key, "D" + System.currentTimeMillis(),
                        System.currentTimeMillis() + 3_600_000));
            }
            edge.<String, Object>getMap(HazelcastLedger.DELIVERED).putAll(forged);
            for (int i = 0; i < guesses.size(); i++) {
                assertThat(ledger.settled(q, "victim" + i + "@x.test")).as("guess %d", i).isEqualTo(Settled.NO);
            }
            ledger.markDelivered(q, "genuine@x.test");
            assertThat(ledger.settled(q, "genuine@x.test")).isEqualTo(Settled.DELIVERED);
        } finally {
            members.forEach(m -> m.getLifecycleService().terminate());
        }
    }
}
