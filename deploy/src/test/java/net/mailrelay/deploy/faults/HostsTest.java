package net.mailrelay.deploy.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The hosts the partition scenarios run on (issue 17): namespaces on a bridge, a process in one
 * reaching the test process, a cut and a random loss that stop it, a heal that lets it through again,
 * and nothing left behind. Where namespaces cannot be made it says why, loudly, and is reported as
 * skipped with that reason, never passed.
 */
class HostsTest {

    /** Whether a TCP connection from {@code host} to the test process at {@code port} opens within 2 s. */
    static boolean reaches(Hosts hosts, String host, int port) throws Exception {
        Process p = new ProcessBuilder(hosts.command(host, List.of("timeout", "2", "bash", "-c",
                "exec 3<>/dev/tcp/" + hosts.gateway() + "/" + port))).redirectErrorStream(true).start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        return p.exitValue() == 0;
    }

    @Test
    void hostsReachTheTestUntilCutAndNothingIsLeftBehind() throws Exception {
        Optional<String> why = Hosts.unavailable();
        if (why.isPresent()) {
            System.err.println("\n*** NETWORK NAMESPACES UNAVAILABLE: " + why.get() + ": the partition tests do not run here ***\n");
        }
        Assumptions.assumeTrue(why.isEmpty(), () -> "network namespaces unavailable: " + why.get());
        Hosts hosts = Hosts.create(List.of("worker-1", "broker-1"));
        try (hosts; ServerSocket server = new ServerSocket(0, 50, InetAddress.getByName(hosts.gateway()))) {
            Thread acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        server.accept().close();
                    } catch (java.io.IOException closed) {
                        return;
                    }
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            int port = server.getLocalPort();
            assertThat(hosts.address("worker-1")).isNotEqualTo(hosts.address("broker-1")).startsWith("10.201.");
            assertThat(reaches(hosts, "worker-1", port)).as("before the cut").isTrue();
            hosts.cut("worker-1", Hosts.GATEWAY);
            assertThat(reaches(hosts, "worker-1", port)).as("cut").isFalse();
            assertThat(reaches(hosts, "broker-1", port)).as("another host, not cut").isTrue();
            hosts.heal("worker-1", Hosts.GATEWAY);
            assertThat(reaches(hosts, "worker-1", port)).as("healed").isTrue();
            hosts.lose("worker-1", Hosts.GATEWAY, 100);
            assertThat(reaches(hosts, "worker-1", port)).as("all packets lost").isFalse();
            hosts.heal("worker-1", Hosts.GATEWAY);
            assertThat(hosts.existingNamespaces()).hasSize(2);
        }
        assertThat(hosts.existingNamespaces()).as("namespaces left behind").isEmpty();
    }
}
