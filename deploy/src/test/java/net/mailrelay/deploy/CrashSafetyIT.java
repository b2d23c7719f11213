package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.Ports;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety of the built jar as a cluster of processes: a {@code broker} process, three {@code worker}
 * processes (each its own Hazelcast member, one consumer group) and a fake MX in this JVM as the sink.
 * Mail is produced straight to {@code mail.outbound}, then a worker is killed with SIGKILL, or the broker
 * is stopped for 30 seconds, in the middle of the run. Every recipient must still arrive, and the
 * duplicates are counted: at-least-once delivery with the delivered-recipients ledger allows a duplicate
 * only for a delivery that was cut off between the remote 250 and the ledger entry, so at most the
 * killed processes' {@code delivery.max-in-flight}.
 *
 * <p>Each process logs to its own file under {@code target/crash-safety/<test>/}, kept for diagnosis.
 */
class CrashSafetyIT {

    static final int WORKERS = 3;
    static final int MAX_IN_FLIGHT = 20;
    static final Duration ALL_DELIVERED = Duration.ofMinutes(3);

    @RegisterExtension
    final FakeMx sink = new FakeMx("sink.test");

    @TempDir
    Path dataDir;

    private final List<Process> processes = new ArrayList<>();
    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private final Topics topics = new Topics("crash-" + run + ".");
    private final int brokerPort = Ports.free();
    private final int controllerPort = Ports.free();
    private final List<Integer> hazelcastPorts = IntStream.range(0, WORKERS).mapToObj(i -> Ports.free()).toList();
    private final long t0 = System.nanoTime();
    private final List<String> report = new ArrayList<>();
    private List<String> rcpts = List.of();
    private Path jar;
    private Path logs;

    @BeforeEach
    void logDirectory(TestInfo test) throws IOException {
        jar = Path.of(System.getProperty("mailrelay.jar", "target/mail-relay.jar")).toAbsolutePath();
        assertThat(jar).exists();
        logs = jar.getParent().resolve("crash-safety").resolve(test.getTestMethod().orElseThrow().getName());
        Files.createDirectories(logs);
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // the temporary data directory is deleted next
        }
        summarize();
        Files.write(logs.resolve("summary.txt"), report, StandardCharsets.UTF_8);
    }

    @Test
    void everyRecipientArrivesWhenAWorkerIsKilled() throws Exception {
        int n = 2_000;
        startBroker("broker");
        List<Process> workers = startWorkers();
        produce(n);

        await().atMost(ALL_DELIVERED).pollInterval(Duration.ofMillis(20)).until(() -> arrived() >= n / 3);
        // The cluster shares the sink's 20 connection slots, so a worker can be waiting for one at this
        // moment; the victim is the worker that has delivered the most, which is delivering now.
        int v = IntStream.rangeClosed(1, WORKERS).boxed().max(Comparator.comparingLong(this::sent)).orElseThrow();
        long sentBefore = sent(v);
        Process victim = workers.get(v - 1);
        victim.destroyForcibly(); // SIGKILL: no shutdown hook, no final commit, no goodbye to Hazelcast
        assertThat(victim.waitFor(30, TimeUnit.SECONDS)).isTrue();
        note("worker-%d killed (SIGKILL, exit %d) after it had sent %d, with %d of %d recipients arrived", v,
                victim.exitValue(), sentBefore, arrived(), n);
        assertThat(sentBefore).as("the killed worker was delivering when it died").isPositive();

        awaitAll(workers.stream().filter(w -> w != victim).toList());
        assertThat(extraDeliveries()).as("deliveries beyond the first; at most the killed worker's in-flight limit")
                .isLessThanOrEqualTo(MAX_IN_FLIGHT);
        for (int i = 1; i <= WORKERS; i++) {
            if (i != v) {
                assertThat(relayErrorLines("worker-" + i)).as("the relay's ERROR lines in worker-%d.log", i).isEmpty();
            }
        }
    }

    @Test
    void nothingIsLostWhenTheBrokerStopsForThirtySeconds() throws Exception {
        int n = 1_000;
        Process broker = startBroker("broker-1");
        List<Process> workers = startWorkers();
        produce(n); // everything is in Kafka before the broker goes away

        await().atMost(ALL_DELIVERED).pollInterval(Duration.ofMillis(20)).until(() -> arrived() >= n / 3);
        note("stopping the broker (SIGTERM) with %d of %d recipients arrived", arrived(), n);
        broker.destroy(); // SIGTERM: the broker shuts down cleanly
        assertThat(broker.waitFor(60, TimeUnit.SECONDS)).as("broker stopped within 60 s").isTrue();
        int atStop = arrived();
        note("broker stopped (exit %d) with %d of %d recipients arrived", broker.exitValue(), atStop, n);
        // Thirty seconds without Kafka: every worker must ride it out.
        await().during(Duration.ofSeconds(30)).atMost(Duration.ofSeconds(40))
                .until(() -> workers.stream().allMatch(Process::isAlive));
        note("broker restarting; %d recipients arrived while it was down", arrived() - atStop);
        startBroker("broker-2");

        awaitAll(workers);
        assertThat(extraDeliveries()).as("deliveries beyond the first").isLessThanOrEqualTo(WORKERS * MAX_IN_FLIGHT);
        for (int i = 1; i <= WORKERS; i++) {
            String worker = "worker-" + i;
            relayErrorLines(worker).forEach(l -> note("%s.log: ERROR line: %s", worker, l));
        }
    }

    // ---- the cluster ---------------------------------------------------------------------------

    private Process startBroker(String name) throws IOException {
        Process p = launch(name, "-Xmx512m", "broker", "--data-dir", dataDir.toString(),
                "--set", "broker.port=" + brokerPort, "--set", "broker.controller-port=" + controllerPort);
        awaitLog(name, p, "mail-relay broker running at ");
        note("%s running on 127.0.0.1:%d", name, brokerPort);
        return p;
    }

    /** Starts every worker at once (they join one Hazelcast cluster) and waits until each is consuming. */
    private List<Process> startWorkers() throws IOException {
        String members = hazelcastPorts.stream().map(port -> "127.0.0.1:" + port).collect(Collectors.joining(","));
        List<Process> workers = new ArrayList<>();
        ClusterFiles secrets = ClusterFiles.make();
        for (int i = 1; i <= WORKERS; i++) {
            workers.add(launch("worker-" + i, "-Xmx256m", "worker",
                    "--set", "hazelcast.cluster-name=" + secrets.clusterName(),
                    "--set", "hazelcast.secret-file=" + secrets.secretFile(),
                    "--bootstrap-servers", "127.0.0.1:" + brokerPort,
                    "--hazelcast-members", members,
                    "--set", "hazelcast.port=" + hazelcastPorts.get(i - 1),
                    "--http-port", "0",
                    "--hostname", "worker-" + i + ".test",
                    "--route", "sink.test=" + sink.hostPort(),
                    "--set", "kafka.replication-factor=1",
                    "--set", "kafka.min-insync-replicas=1",
                    "--set", "kafka.partitions=6",
                    "--set", "queue.retry-tiers=1s",
                    "--set", "queue.min-backoff=1s",
                    "--set", "queue.max-backoff=2s",
                    "--set", "delivery.max-in-flight=" + MAX_IN_FLIGHT,
                    "--set", "kafka.topic-prefix=" + topics.prefix()));
        }
        for (int i = 1; i <= WORKERS; i++) {
            awaitLog("worker-" + i, workers.get(i - 1), "worker consuming ");
        }
        note("%d workers consuming", WORKERS);
        return workers;
    }

    private Process launch(String name, String heap, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), heap));
        command.addAll(RelayJvm.classData(jar));
        command.addAll(List.of("-jar", jar.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(logs.resolve(name + ".log").toFile())
                .start();
        processes.add(p);
        return p;
    }

    private void awaitLog(String name, Process p, String line) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(p.isAlive()).as("%s alive; its log:%n%s", name, log(name)).isTrue();
            return log(name).contains(line);
        });
    }

    // ---- the mail ------------------------------------------------------------------------------

    /** Writes n single-recipient messages to mail.outbound, as an edge would; they become {@link #rcpts}. */
    private void produce(int n) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + brokerPort);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        List<String> produced = new ArrayList<>();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String rcpt = "m" + i + "@sink.test";
                produced.add(rcpt);
                long now = System.currentTimeMillis();
                Envelope env = new Envelope(QueueId.next(now), "sender@client.test", List.of(Recipient.of(rcpt)),
                        BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null, now, 0, 0, null);
                byte[] body = ("Message-ID: <" + marker(rcpt) + "@client.test>\r\nSubject: crash safety " + i + "\r\n\r\n"
                        + marker(rcpt) + "\r\n").getBytes(StandardCharsets.US_ASCII);
                ProducerRecord<String, byte[]> record = new ProducerRecord<>(topics.outbound(), null, env.queueId().value(),
                        RecordCodec.encode(env, body, 0, body.length),
                        List.of(new RecordHeader(RecordHeaders.FORMAT, RecordCodec.FORMAT_HEADER_VALUE.getBytes(StandardCharsets.US_ASCII))));
                acks.add(producer.send(record));
            }
            for (Future<RecordMetadata> ack : acks) {
                ack.get(60, TimeUnit.SECONDS);
            }
        }
        rcpts = List.copyOf(produced);
        note("%d messages produced to %s", n, topics.outbound());
    }

    private String marker(String rcpt) {
        return run + "-" + rcpt.substring(0, rcpt.indexOf('@'));
    }

    /** Deliveries per recipient so far. */
    private Map<String, Long> arrivals() {
        return sink.deliveries().stream().flatMap(d -> d.recipients().stream())
                .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
    }

    private int arrived() {
        Map<String, Long> a = arrivals();
        return (int) rcpts.stream().filter(a::containsKey).count();
    }

    /**
     * Waits until every recipient has arrived at least once, while the given processes stay alive, then
     * until nothing more arrives for three seconds (a late duplicate would still be counted).
     */
    private void awaitAll(List<Process> mustLive) {
        long start = System.nanoTime();
        try {
            await().atMost(ALL_DELIVERED).pollInterval(Duration.ofMillis(500)).until(() -> {
                assertThat(mustLive).allMatch(Process::isAlive);
                return arrived() == rcpts.size();
            });
        } finally {
            note("%d of %d recipients arrived, %.1f s after the last wait began", arrived(), rcpts.size(),
                    (System.nanoTime() - start) / 1e9);
        }
        int[] seen = {-1};
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(30)).until(() -> {
            int now = sink.deliveries().size();
            boolean quiet = now == seen[0];
            seen[0] = now;
            return quiet;
        });
        for (FakeMx.Delivery d : sink.deliveries()) {
            assertThat(d.text()).as("body delivered to %s", d.recipients()).contains(marker(d.recipients().get(0)));
        }
    }

    /** Deliveries beyond the first to a recipient. */
    private int extraDeliveries() {
        return arrivals().values().stream().mapToInt(count -> (int) (count - 1)).sum();
    }

    /** Reports, pass or fail, what arrived in the end: the missing recipients and the duplicates. */
    private void summarize() {
        Map<String, Long> a = arrivals();
        List<String> missing = rcpts.stream().filter(r -> !a.containsKey(r)).toList();
        List<String> twice = rcpts.stream().filter(r -> a.getOrDefault(r, 0L) > 1).toList();
        note("final: %d of %d recipients arrived, missing %s; duplicates: %d extra deliveries to %d recipients %s",
                rcpts.size() - missing.size(), rcpts.size(), missing.stream().limit(50).toList(), extraDeliveries(),
                twice.size(), twice.stream().map(r -> r + " x" + a.get(r)).limit(50).toList());
    }

    // ---- logs ----------------------------------------------------------------------------------

    private String log(String name) {
        try {
            return Files.readString(logs.resolve(name + ".log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deliveries worker-{@code i} has logged as sent so far. */
    private long sent(int i) {
        return log("worker-" + i).lines().filter(l -> l.contains("status=sent")).count();
    }

    /**
     * ERROR lines of the relay and its Kafka clients: an unreadable record skipped, the delivery loop
     * stopped. Hazelcast's own threads ({@code [hz.}) log ERROR when an operation's retry races with its
     * first answer after a member died; those say nothing about records, so they are only reported.
     */
    private List<String> relayErrorLines(String name) {
        List<String> errors = log(name).lines().filter(l -> l.contains(" ERROR ")).toList();
        long hazelcast = errors.stream().filter(l -> l.contains(" [hz.")).count();
        if (hazelcast > 0) {
            note("%s.log: %d ERROR lines from Hazelcast threads, e.g. %.200s", name, hazelcast,
                    errors.stream().filter(l -> l.contains(" [hz.")).findFirst().orElseThrow());
        }
        return errors.stream().filter(l -> !l.contains(" [hz.")).toList();
    }

    private void note(String format, Object... args) {
        String line = String.format(Locale.ROOT, "[%6.1f s] ", (System.nanoTime() - t0) / 1e9) + String.format(Locale.ROOT, format, args);
        report.add(line);
        System.out.println("CrashSafetyIT: " + line);
    }
}
