package net.mailrelay.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.mailrelay.testing.Ports;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * JVM options for the relay processes the integration tests start: a class data archive (AppCDS) of
 * the jar, made once per build by a standalone relay that starts and stops, spares each later process
 * the loading and verifying of the jar's classes (about 2 s of a 2-core machine's CPU per start; the
 * suites start some forty). Where the archive cannot be made the processes start without it: it changes
 * how fast they start, never what they do.
 */
public final class RelayJvm {

    private static List<String> options;

    private RelayJvm() {
    }

    /** The options that use the jar's class data archive, making it first if needed; empty if it cannot be made. */
    public static synchronized List<String> classData(Path jar) {
        if (options == null) {
            options = make(jar.toAbsolutePath());
        }
        return options;
    }

    private static List<String> make(Path jar) {
        Path archive = jar.getParent().resolve("mail-relay.jsa");
        List<String> use = List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds=off", "-Xlog:cds+dynamic=off");
        try {
            if (Files.exists(archive) && Files.getLastModifiedTime(archive).compareTo(Files.getLastModifiedTime(jar)) > 0) {
                return use;
            }
            Files.deleteIfExists(archive);
            long t0 = System.nanoTime();
            Path dir = Files.createTempDirectory("relay-cds");
            Path log = jar.getParent().resolve("mail-relay-jsa.log");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                    "-XX:ArchiveClassesAtExit=" + archive, "-jar", jar.toString(), "standalone",
                    "--data-dir", dir.resolve("data").toString(), "--hostname", "relay.test",
                    "--smtp-port", Integer.toString(Ports.free()), "--http-port", Integer.toString(Ports.free()),
                    "--submission-port", "0", "--smtps-port", "0",
                    "--set", "broker.port=" + Ports.free(), "--set", "broker.controller-port=" + Ports.free(),
                    "--set", "hazelcast.port=" + Ports.free())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                try {
                    Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() ->
                            !p.isAlive() || Files.readString(log, StandardCharsets.UTF_8).contains("running as relay.test"));
                } catch (ConditionTimeoutException e) {
                    // not ready in time: what it loaded so far still makes an archive
                }
                p.destroy(); // SIGTERM: the archive is written as the JVM exits
                if (!p.waitFor(90, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } finally {
                p.destroyForcibly();
            }
            if (!Files.exists(archive)) {
                System.out.println("RelayJvm: no class data archive was made (see " + log + "); relay processes start without one");
                return List.of();
            }
            System.out.printf("RelayJvm: class data archive %s made in %d ms%n", archive, (System.nanoTime() - t0) / 1_000_000);
            return use;
        } catch (IOException e) {
            System.out.println("RelayJvm: no class data archive (" + e + "); relay processes start without one");
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }
}
