package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.mailrelay.deploy.cluster.HazelcastIntruder;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built jar, run as the README runs it: {@code java -jar mail-relay.jar standalone}. It must accept
 * and deliver mail, serve its health and metrics, stop cleanly on SIGTERM and, started again on the
 * same data directory, deliver mail it had accepted before it stopped.
 */
class StandaloneJarIT {

    static final String TOKEN = "jar-admin-token";
    /** Families docs/metrics.md promises from a standalone process, each of edge, worker and bounce. */
    static final List<String> FAMILIES = List.of("mailrelay_smtp_connections_total", "mailrelay_smtp_connections_active",
            "mailrelay_smtp_messages_accepted_total", "mailrelay_smtp_accepted_bytes_total",
            "mailrelay_edge_publish_seconds_bucket", "mailrelay_delivery_attempts_total", "mailrelay_delivery_delay_seconds_bucket",
            "mailrelay_delivery_attempt_seconds_bucket", "mailrelay_delivery_connections_active", "mailrelay_queue_lag",
            "mailrelay_queue_in_flight", "mailrelay_delivery_backoffs_active", "mailrelay_suppression_entries",
            "mailrelay_dsn_sent_total", "mailrelay_hazelcast_members", "kafka_consumer_", "kafka_producer_",
            "jvm_memory_used_bytes", "process_cpu_usage");

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    private final List<FakeMx> sinks = new ArrayList<>();
    private final int smtpPort = freePort();
    private final int httpPort = freePort();
    private final int brokerPort = freePort();
    private final int controllerPort = freePort();
    private final int hazelcastPort = freePort();
    private final int downPort = freePort();
    private final int submissionPort = freePort();
    private final int smtpsPort = freePort();

    static int freePort() {
        return Ports.free();
    }

    @AfterEach
    void stop() {
        processes.forEach(p -> p.destroyForcibly());
        sinks.forEach(FakeMx::close);
    }

    private Process start(FakeMx routed, Path log) throws IOException {
        Path jar = Path.of(System.getProperty("mailrelay.jar", "target/mail-relay.jar"));
        assertThat(jar).exists();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new java.util.ArrayList<>(List.of(java, "-Xmx512m"));
        command.addAll(RelayJvm.classData(jar));
        command.addAll(List.of("-jar", jar.toString(), "standalone",
                "--data-dir", dir.resolve("data").toString(),
                "--smtp-port", Integer.toString(smtpPort),
                "--http-port", Integer.toString(httpPort),
                "--submission-port", Integer.toString(submissionPort),
                "--smtps-port", Integer.toString(smtpsPort),
                "--hostname", "relay.test",
                "--route", "routed.test=" + routed.hostPort(),
                "--route", "down.test=127.0.0.1:" + downPort,
                "--set", "broker.port=" + brokerPort,
                "--set", "broker.controller-port=" + controllerPort,
                "--set", "hazelcast.port=" + hazelcastPort,
                "--set", "queue.retry-tiers=1s",
                "--set", "queue.min-backoff=1s",
                "--set", "queue.max-backoff=1s",
                "--set", "admin.token=" + TOKEN,
                "--set", "dkim.key-dir=" + dir.resolve("dkim")));
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        processes.add(p);
        Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(p.isAlive()).as("relay process alive; log:%n%s", Files.readString(log)).isTrue();
            // Ready, not merely listening: until its Kafka transactions are, the edge answers 421.
            return Files.readString(log).contains("mail-relay standalone running as relay.test");
        });
        return p;
    }

    private String send(String to, String subject) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", smtpPort)) {
            c.expect("220 relay.test ESMTP");
            c.send("EHLO client.test");
            c.expect("250 ");
            String reply = c.sendMessage("sender@client.test", List.of(to), "Subject: " + subject + "\r\n\r\nbody\r\n");
            c.send("QUIT");
            return reply;
        }
    }

    /** Runs the jar as a CLI against this process's admin API; returns what it printed. */
    private String cli(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(args));
        command.addAll(List.of("--url", "http://127.0.0.1:" + httpPort, "--token", TOKEN));
        return jar(command);
    }

    /** A message From sender@client.test (a trusted client, so signed) to {@code rcpt}, as the MX received it. */
    private byte[] fromClientTest(FakeMx mx, String rcpt) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", smtpPort)) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            assertThat(c.sendMessage("sender@client.test", List.of(rcpt), "From: <sender@client.test>\r\n"
                    + "To: <" + rcpt + ">\r\nSubject: signed\r\n\r\nbody\r\n")).startsWith("250 ");
        }
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> mx.deliveriesTo(rcpt).size() == 1);
        return mx.deliveriesTo(rcpt).get(0).data();
    }

    record Run(int status, String out) {
    }

    /** Runs the jar with these arguments; returns its exit status and what it printed. */
    private static Run run(List<String> args) throws Exception {
        Path jar = Path.of(System.getProperty("mailrelay.jar", "target/mail-relay.jar"));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString()));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out);
    }

    /** Runs the jar with these arguments; returns what it printed, after checking it exited 0. */
    private static String jar(List<String> args) throws Exception {
        Run r = run(args);
        assertThat(r.status()).as("%s exit status; output:%n%s", args, r.out()).isZero();
        return r.out();
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void acceptsDeliversAndKeepsItsQueueAcrossARestart() throws Exception {
        FakeMx routed = new FakeMx("routed.sink");
        routed.start();
        sinks.add(routed);
        // Issue 18: keys made by the jar, and mail from a trusted client signed with both and verified by dkimpy
        // and OpenDKIM, with the records the jar printed.
        List<String> zone = new ArrayList<>();
        for (String algorithm : List.of("rsa", "ed25519")) {
            String printed = jar(List.of("dkim", "keygen", "--domain", "client.test", "--selector", algorithm + "1",
                    "--algorithm", algorithm, "--dir", dir.resolve("dkim").toString())).trim();
            zone.add(printed.lines().filter(l -> l.contains(" IN TXT ")).findFirst().orElseThrow());
            assertThat(zone.get(zone.size() - 1)).startsWith(algorithm + "1._domainkey.client.test. IN TXT \"v=DKIM1; k=" + algorithm + "; p=");
        }
        Path firstLog = dir.resolve("first.log");
        Process first = start(routed, firstLog);
        // A 250 rests on the transaction's commit as much as on the record: the broker flushes both.
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                java.util.Map.of("bootstrap.servers", "127.0.0.1:" + brokerPort))) {
            var log = new org.apache.kafka.common.config.ConfigResource(org.apache.kafka.common.config.ConfigResource.Type.TOPIC,
                    "__transaction_state");
            assertThat(admin.describeConfigs(List.of(log)).all().get(30, java.util.concurrent.TimeUnit.SECONDS).get(log)
                    .get("flush.messages").value()).isEqualTo("1");
        }

        byte[] signed = fromClientTest(routed, "signed@routed.test");
        assertThat(net.mailrelay.testing.Dkimpy.verify(signed, zone)).isEqualTo("pass pass");
        assertThat(net.mailrelay.testing.OpenDkim.verify(signed, zone)).isEqualTo("pass pass");

        // A key rotation without a restart (issue 30): a file that is not a key is refused and the old keys
        // stay; then a new selector is read and signs the next message beside the old ones.
        Path bad = dir.resolve("dkim").resolve("client.test").resolve("broken.pem");
        java.nio.file.Files.writeString(bad, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
        java.nio.file.Files.setPosixFilePermissions(bad, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Run refused = run(List.of("queue", "reload-dkim", "--url", "http://127.0.0.1:" + httpPort, "--token", TOKEN));
        assertThat(refused.status()).as(refused.out()).isEqualTo(1);
        assertThat(refused.out()).contains("NOT reloaded").contains("broken.pem").contains("still signing with client.test s=ed255191,rsa1");
        java.nio.file.Files.delete(bad);
        String added = jar(List.of("dkim", "keygen", "--domain", "client.test", "--selector", "e2", "--algorithm", "ed25519",
                "--dir", dir.resolve("dkim").toString()));
        zone.add(added.lines().filter(l -> l.contains(" IN TXT ")).findFirst().orElseThrow());
        assertThat(cli("queue", "reload-dkim")).contains("reloaded: client.test s=e2,ed255191,rsa1");
        byte[] rotated = fromClientTest(routed, "rotated@routed.test");
        assertThat(net.mailrelay.testing.Dkimpy.verify(rotated, zone)).isEqualTo("pass pass pass");
        assertThat(net.mailrelay.testing.OpenDkim.verify(rotated, zone)).isEqualTo("pass pass pass");

        assertThat(send("someone@routed.test", "first")).startsWith("250 2.0.0 Ok: queued as ");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> routed.deliveriesTo("someone@routed.test").size() == 1);
        assertThat(routed.deliveriesTo("someone@routed.test").get(0).text()).contains("Subject: first").startsWith("Received: ");

        // smtp.strict-envelopes is on by default (issue 15): a bare address on the MX port gets 501 5.5.4.
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", smtpPort)) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:sender@client.test");
            c.expect("501 5.5.4");
        }

        assertThat(get(httpPort, "/health/live").statusCode()).isEqualTo(200);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> get(httpPort, "/health/ready").statusCode() == 200);
        // Issue 17: a Hazelcast client with the right cluster name gets into the running relay neither through
        // loopback nor through the machine's other addresses, so it can read no map.
        for (String address : HazelcastIntruder.addresses()) {
            assertThat(HazelcastIntruder.tryClient("mail-relay", address, hazelcastPort)).as("a Hazelcast client at %s:%d", address,
                    hazelcastPort).isEmpty();
        }
        String metrics = get(httpPort, "/metrics").body();
        assertThat(metrics).contains("role=\"standalone\"");
        assertThat(FAMILIES).allSatisfy(f -> assertThat(metrics).as("metric family %s", f).contains(f));

        // The admin commands, as an operator runs them against the standalone process.
        String id = routed.deliveriesTo("someone@routed.test").get(0).text().replaceAll("(?s).*with ESMTP id (\\w+).*", "$1");
        assertThat(cli("queue", "show", id)).contains("someone@routed.test").contains("DELIVERED");
        assertThat(cli("queue", "summary")).contains("mail.outbound");
        assertThat(cli("queue", "hold", "held.test")).contains("held.test");
        assertThat(cli("queue", "holds")).contains("held.test");
        assertThat(cli("queue", "release", "held.test")).contains("released");

        // Accepted while its destination is down: it must survive the restart.
        assertThat(send("later@down.test", "survivor")).startsWith("250 2.0.0 Ok: queued as ");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(firstLog).contains("to=<later@down.test>"));

        first.destroy(); // SIGTERM: the shutdown hook stops every part
        assertThat(first.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s").isTrue();
        assertThat(Files.readString(firstLog)).contains("formatted new Kafka log directory").contains("embedded Kafka broker stopped");
        // The broker shares the machine with the edge and the worker, so it gets fewer threads than Kafka's 8 + 3.
        java.util.Properties broker = new java.util.Properties();
        try (var in = Files.newInputStream(dir.resolve("data").resolve("kafka-server.properties"))) {
            broker.load(in);
        }
        int cores = Runtime.getRuntime().availableProcessors();
        assertThat(broker).containsEntry("num.io.threads", Integer.toString(Math.max(2, cores)))
                .containsEntry("num.network.threads", Integer.toString(Math.max(1, cores / 2)));

        FakeMx cameBack = new FakeMx("down.sink", InetAddress.getLoopbackAddress(), downPort);
        cameBack.start();
        sinks.add(cameBack);
        Path secondLog = dir.resolve("second.log");
        start(routed, secondLog);
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> cameBack.deliveriesTo("later@down.test").size() == 1);
        assertThat(cameBack.deliveriesTo("later@down.test").get(0).text()).contains("Subject: survivor");
        assertThat(Files.readString(secondLog)).doesNotContain("formatted new Kafka log directory");

        assertThat(send("again@routed.test", "second")).startsWith("250 ");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> routed.deliveriesTo("again@routed.test").size() == 1);
        assertThat(routed.deliveriesTo("someone@routed.test")).hasSize(1);
    }
}
