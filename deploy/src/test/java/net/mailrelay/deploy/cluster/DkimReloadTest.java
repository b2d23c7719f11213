package net.mailrelay.deploy.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.dkim.KeyGeneration;
import net.mailrelay.testing.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 30, {@code queue reload-dkim} across the cluster, on real members: a worker asks, two lite edges
 * with key folders of their own read them again. One folder holds a broken file: that edge keeps its
 * old keys and says why, the other signs with its new selector. An edge that is gone is not waited for.
 */
class DkimReloadTest {

    @TempDir
    Path dir;

    @Test
    void eachEdgeReadsItsOwnKeysAgainAndOneThatCannotKeepsItsOld() throws Exception {
        List<Integer> ports = List.of(Ports.free(), Ports.free(), Ports.free());
        List<String> all = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        String name = "dkim-" + UUID.randomUUID();
        List<HazelcastInstance> members = new ArrayList<>();
        List<AutoCloseable> reloads = new ArrayList<>();
        try {
            HazelcastInstance worker = HazelcastMember.start(name, "127.0.0.1", ports.get(0), new HazelcastMember.Discovery.TcpIp(all), false);
            members.add(worker);
            Path a = dir.resolve("a");
            Path b = dir.resolve("b");
            KeyGeneration.generate(a, "example.org", "s1", "ed25519", 0);
            KeyGeneration.generate(b, "example.org", "s1", "ed25519", 0);
            DkimKeys keysA = DkimKeys.load(a, DkimKeys.Settings.defaults());
            DkimKeys keysB = DkimKeys.load(b, DkimKeys.Settings.defaults());
            HazelcastInstance edgeA = HazelcastMember.start(name, "127.0.0.1", ports.get(1), new HazelcastMember.Discovery.TcpIp(all), true);
            members.add(edgeA);
            HazelcastInstance edgeB = HazelcastMember.start(name, "127.0.0.1", ports.get(2), new HazelcastMember.Discovery.TcpIp(all), true);
            members.add(edgeB);
            reloads.add(DkimReload.signer(edgeA, "edge-a edge", () -> DkimKeys.load(a, DkimKeys.Settings.defaults()), keysA));
            reloads.add(DkimReload.signer(edgeB, "edge-b edge", () -> DkimKeys.load(b, DkimKeys.Settings.defaults()), keysB));
            DkimReload requester = DkimReload.requester(worker);

            KeyGeneration.generate(a, "example.org", "s2", "ed25519", 0);
            Path broken = b.resolve("example.org").resolve("s2.pem");
            Files.writeString(broken, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
            Files.setPosixFilePermissions(broken, PosixFilePermissions.fromString("rw-------"));

            Map<String, DkimReload.Answer> answers = requester.request(Duration.ofSeconds(20));
            assertThat(answers).hasSize(2);
            DkimReload.Answer fromA = answers.entrySet().stream().filter(e -> e.getKey().startsWith("edge-a")).findFirst().orElseThrow().getValue();
            DkimReload.Answer fromB = answers.entrySet().stream().filter(e -> e.getKey().startsWith("edge-b")).findFirst().orElseThrow().getValue();
            assertThat(fromA.ok()).isTrue();
            assertThat(fromA.text()).isEqualTo("example.org s=s1,s2");
            assertThat(keysA.forDomain("example.org")).as("edge A signs with the new set").hasSize(2);
            assertThat(fromB.ok()).isFalse();
            assertThat(fromB.text()).contains(broken.toString()).contains("still signing with example.org s=s1");
            assertThat(keysB.forDomain("example.org")).as("edge B keeps its old keys").hasSize(1);

            // Edge B goes away without a word: its answer stays in the map, but it is not waited for.
            edgeB.getLifecycleService().terminate();
            Files.delete(broken);
            long t0 = System.nanoTime();
            answers = requester.request(Duration.ofSeconds(20));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
            assertThat(answers).hasSize(1).allSatisfy((k, v) -> assertThat(v.ok()).isTrue());
        } finally {
            for (AutoCloseable r : reloads) {
                try {
                    r.close();
                } catch (Exception e) {
                    // the member may be gone already
                }
            }
            members.forEach(m -> m.getLifecycleService().terminate());
        }
    }
}
