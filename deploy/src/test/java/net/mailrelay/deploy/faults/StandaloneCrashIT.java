package net.mailrelay.deploy.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16: the standalone relay, one process holding the edge, the worker, the bounce service, the
 * Kafka broker and the only Hazelcast member, killed with SIGKILL under load and started again on the
 * same data directory. The delivered-recipients ledger dies with it; what was accepted must all arrive,
 * and no recipient whose delivery reached the delivery log before the kill may be delivered again.
 *
 * <p>The queue has one partition, and its first message goes to an MX that never answers the final
 * dot: that record stays unfinished, so nothing after it is committed, and every message delivered
 * before the kill is read again after the restart. Without the ledger's rebuild each of those was
 * delivered a second time; with it a duplicate is allowed only for a delivery whose DELIVERED event
 * never reached Kafka: one in the SMTP conversation at the kill, between the MX's 250 and the event's
 * acknowledgement. The test checks exactly that on the delivery log, and bounds the count by what the
 * fake MXs saw: the 250s given in the last {@link #CONVERSATION} of each connection that the kill cut
 * (it ended without QUIT). Logs: {@code target/standalone-crash/}.
 */
class StandaloneCrashIT {

    static final String SCENARIO = "standalone-kill";
    static final int MESSAGES = 1_000;
    static final double RATE = 100;
    static final int SESSIONS = 10;
    static final int MAX_IN_FLIGHT = 50;
    /**
     * How long before a connection's end its 250 counts as in the conversation at the kill: the MX's reply,
     * the rest of the record's attempt and the DELIVERED event's produce round trip (with an fsync on the
     * standalone broker) take milliseconds; this is generous for a loaded 2-core machine.
     */
    static final Duration CONVERSATION = Duration.ofMillis(500);
    private static final Pattern RESTORED = Pattern.compile("ledger rebuilt for .* (\\d+) settled recipients restored");

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    private final List<FakeMx> sinks = new ArrayList<>();
    private final int smtpPort = Ports.free();
    private final int httpPort = Ports.free();
    private final int brokerPort = Ports.free();
    private final int controllerPort = Ports.free();
    private final int hazelcastPort = Ports.free();
    private Path logs;

    @AfterEach
    void stop() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        sinks.forEach(FakeMx::close);
    }

    @Test
    void nothingAcceptedIsLostAndNothingOnTheDeliveryLogIsDeliveredAgain() throws Exception {
        Path jar = Path.of(System.getProperty("mailrelay.jar", "target/mail-relay.jar")).toAbsolutePath();
        assertThat(jar).exists();
        logs = jar.getParent().resolve("standalone-crash");
        Files.createDirectories(logs);
        FakeMx mx = sink("mx.sink.test");
        FakeMx returns = sink("mx.senders.test");
        FakeMx stalling = sink("mx.slow.test");
        stalling.mode(FakeMx.Mode.STALL_AFTER_DATA);

        Process first = start(jar, "first", mx, returns, stalling);
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", smtpPort)) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            assertThat(c.sendMessage("held@senders.test", List.of("held@slow.test"), "Subject: held\r\n\r\nheld back\r\n"))
                    .startsWith("250 ");
            c.send("QUIT");
        }
        // Its delivery is under way and will not end: the partition's commits stop at it.
        await().atMost(Duration.ofSeconds(30)).until(() -> stalling.commandsSeen().contains("DATA"));

        LoadDriver driver = new LoadDriver(SCENARIO, List.of(new java.net.InetSocketAddress("127.0.0.1", smtpPort)), MESSAGES, SESSIONS, RATE, Duration.ofSeconds(60),
                LoadDriver.Style.ONE_PER_CONNECTION).start();
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(20)).until(() -> driver.finished() >= MESSAGES / 2);
        int atMx = mx.deliveryCount();
        first.destroyForcibly(); // SIGKILL: no shutdown hook, no final commit, and the only Hazelcast member gone
        assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
        long killedAt = System.currentTimeMillis();
        // The conversations the kill cut: each MX sees its connections end without QUIT.
        AtomicInteger cut = new AtomicInteger(-1);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).during(Duration.ofMillis(500))
                .until(() -> cut.getAndSet(mx.deliveriesCutOff(CONVERSATION) + returns.deliveriesCutOff(CONVERSATION))
                        == mx.deliveriesCutOff(CONVERSATION) + returns.deliveriesCutOff(CONVERSATION));
        System.out.printf("StandaloneCrashIT: killed after %d messages accepted, %d delivered; %d deliveries had their 250 "
                + "in the last %d ms of a conversation the kill cut%n", driver.ledger().size(), atMx, cut.get(),
                CONVERSATION.toMillis());
        assertThat(atMx).as("delivered before the kill").isGreaterThan(MESSAGES / 4);

        stalling.mode(FakeMx.Mode.NORMAL).closeConnections();
        start(jar, "second", mx, returns, stalling);
        driver.awaitDone(Duration.ofMinutes(3));
        assertThat(driver.ledger()).as("messages accepted").hasSize(MESSAGES);

        AtomicReference<Reconciliation> r = new AtomicReference<>();
        try {
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                r.set(Reconciliation.of(SCENARIO, driver.ledger(), mx.deliveries(), returns.deliveries()));
                return r.get().lost.isEmpty() && stalling.deliveriesTo("held@slow.test").size() == 1;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            System.out.println("StandaloneCrashIT: not all delivered; Kafka's view:\n" + kafkaState());
            throw e;
        }
        // Late duplicates still count: wait until nothing has arrived for five seconds.
        AtomicInteger seen = new AtomicInteger(-1);
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).during(Duration.ofSeconds(5))
                .until(() -> seen.getAndSet(mx.deliveryCount() + returns.deliveryCount())
                        == mx.deliveryCount() + returns.deliveryCount());
        r.set(Reconciliation.of(SCENARIO, driver.ledger(), mx.deliveries(), returns.deliveries()));
        System.out.printf("StandaloneCrashIT: %s; duplicated %s%n", r.get().summary(), r.get().duplicated);
        System.out.println("StandaloneCrashIT: Kafka at the end:\n" + kafkaState());

        assertThat(r.get().lost).as("accepted recipients neither delivered nor bounced").isEmpty();
        assertThat(r.get().wrongOutcome).as("recipients with the wrong outcome").isEmpty();
        Matcher restored = RESTORED.matcher(Files.readString(logs.resolve("second.log")));
        assertThat(restored.find()).as("the restarted relay rebuilt its ledger").isTrue();
        assertThat(Integer.parseInt(restored.group(1))).as("settled recipients restored").isGreaterThanOrEqualTo(atMx - MAX_IN_FLIGHT);

        Map<String, Long> firstDelivered = deliveredBefore(killedAt);
        List<String> again = r.get().duplicated.stream().map(d -> d.substring(0, d.lastIndexOf(' ')))
                .filter(firstDelivered::containsKey).toList();
        assertThat(again).as("recipients delivered again although their DELIVERED event was on the log before the kill")
                .isEmpty();
        assertThat(r.get().duplicates).as("duplicates: at most the deliveries in the SMTP conversation at the kill")
                .isLessThanOrEqualTo(cut.get());
        assertThat(stalling.deliveriesTo("held@slow.test")).as("the held-back message, once its MX answers").hasSize(1);

        // The restart takes the queue back at once: its worker keeps its consumer name (no wait for the
        // killed member's 45 s session timeout), and its edge its transactional id (whatever the killed edge
        // left open is aborted when the new one starts, not at the coordinator's timeout).
        String second = Files.readString(logs.resolve("second.log"));
        Duration toRebuild = Duration.between(logTime(second, "EmbeddedBroker: embedded Kafka broker started"),
                logTime(second, "LedgerRebuild: ledger rebuilt"));
        assertThat(toRebuild).as("from the restarted broker to the worker's first rebuild").isLessThan(Duration.ofSeconds(30));
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                Map.of("bootstrap.servers", "127.0.0.1:" + brokerPort))) {
            assertThat(admin.listTransactions().all().get(10, TimeUnit.SECONDS))
                    .extracting(org.apache.kafka.clients.admin.TransactionListing::transactionalId)
                    .as("transactional ids used over both runs").containsExactly("mail-relay-standalone-edge");
            // The bounce service keeps its consumer name too: its requests are not held for a session timeout.
            var groups = admin.describeConsumerGroups(List.of("mail-relay-worker", "mail-relay-bounce")).all()
                    .get(10, TimeUnit.SECONDS);
            assertThat(groups.get("mail-relay-worker").members()).extracting(m -> m.groupInstanceId().orElse("(none)"))
                    .as("the worker's consumer after the restart").containsExactly("standalone-worker");
            assertThat(groups.get("mail-relay-bounce").members()).extracting(m -> m.groupInstanceId().orElse("(none)"))
                    .as("the bounce service's consumer after the restart").containsExactly("standalone-bounce");
        }
    }

    /** The time of the first log line that contains the text. */
    private static java.time.Instant logTime(String log, String text) {
        int at = log.indexOf(text);
        assertThat(at).as("a log line with '%s'", text).isNotNegative();
        int start = log.lastIndexOf('\n', at) + 1;
        return java.time.Instant.parse(log.substring(start, log.indexOf(' ', start)));
    }

    /** Queue id and recipient ("ID rcpt") of every DELIVERED event on the delivery log from before the kill. */
    private Map<String, Long> deliveredBefore(long killedAt) {
        Map<String, Long> out = new HashMap<>();
        String topic = Topics.DEFAULT.events();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                "127.0.0.1:" + brokerPort), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = c.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
                for (ConsumerRecord<String, byte[]> rec : c.poll(Duration.ofMillis(200))) {
                    DeliveryEvent e = RecordCodec.decode(rec.value(), DeliveryEvent.class).metadata();
                    if (e.outcome() == DeliveryEvent.Outcome.DELIVERED && rec.timestamp() < killedAt) {
                        out.merge(e.queueId().value() + " " + e.recipient().toLowerCase(Locale.ROOT), rec.timestamp(), Math::min);
                    }
                }
            }
        }
        return out;
    }

    /** The queue's transactions, producers, offsets and the group's commits: what a stuck queue shows. */
    private String kafkaState() {
        StringBuilder out = new StringBuilder();
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                Map.of("bootstrap.servers", "127.0.0.1:" + brokerPort))) {
            List<TopicPartition> tps = new ArrayList<>();
            for (String t : admin.listTopics().names().get(10, TimeUnit.SECONDS)) {
                if (!t.startsWith("__")) {
                    admin.describeTopics(List.of(t)).allTopicNames().get(10, TimeUnit.SECONDS).get(t).partitions()
                            .forEach(p -> tps.add(new TopicPartition(t, p.partition())));
                }
            }
            for (TopicPartition tp : tps) {
                var latest = admin.listOffsets(Map.of(tp, org.apache.kafka.clients.admin.OffsetSpec.latest())).all()
                        .get(10, TimeUnit.SECONDS).get(tp).offset();
                var lso = admin.listOffsets(Map.of(tp, org.apache.kafka.clients.admin.OffsetSpec.latest()),
                        new org.apache.kafka.clients.admin.ListOffsetsOptions(org.apache.kafka.common.IsolationLevel.READ_COMMITTED))
                        .all().get(10, TimeUnit.SECONDS).get(tp).offset();
                out.append(tp).append(" end ").append(latest).append(" lso ").append(lso).append(" producers ")
                        .append(admin.describeProducers(List.of(tp)).partitionResult(tp).get(10, TimeUnit.SECONDS).activeProducers())
                        .append('\n');
            }
            var listings = admin.listTransactions().all().get(10, TimeUnit.SECONDS);
            out.append("transactions ").append(listings).append('\n');
            for (var g : admin.listGroups().all().get(10, TimeUnit.SECONDS)) {
                out.append("group ").append(g.groupId()).append(' ')
                        .append(admin.listConsumerGroupOffsets(g.groupId()).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS))
                        .append('\n');
            }
        } catch (Exception e) {
            out.append("(could not read: ").append(e).append(')');
        }
        return out.toString();
    }

    private FakeMx sink(String name) {
        FakeMx mx = new FakeMx(name);
        mx.start();
        sinks.add(mx);
        return mx;
    }

    private Process start(Path jar, String name, FakeMx mx, FakeMx returns, FakeMx stalling) throws IOException {
        Path log = logs.resolve(name + ".log");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m"));
        command.addAll(net.mailrelay.deploy.RelayJvm.classData(jar));
        command.addAll(List.of("-jar", jar.toString(), "standalone",
                "--data-dir", dir.resolve("data").toString(),
                "--smtp-port", Integer.toString(smtpPort),
                "--http-port", Integer.toString(httpPort),
                "--submission-port", "0",
                "--smtps-port", "0",
                "--hostname", "relay.test",
                "--route", "sink.test=" + mx.hostPort(),
                "--route", "senders.test=" + returns.hostPort(),
                "--route", "slow.test=" + stalling.hostPort(),
                "--set", "broker.port=" + brokerPort,
                "--set", "broker.controller-port=" + controllerPort,
                "--set", "hazelcast.port=" + hazelcastPort,
                "--set", "kafka.partitions=1",
                "--set", "delivery.max-in-flight=" + MAX_IN_FLIGHT,
                "--set", "queue.retry-tiers=1s",
                "--set", "queue.min-backoff=1s",
                "--set", "queue.max-backoff=2s"));
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        processes.add(p);
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(p.isAlive()).as("%s alive; its log:%n%s", name, Files.readString(log, StandardCharsets.UTF_8)).isTrue();
            // Ready, not merely listening: until its Kafka transactions are, the edge answers 421.
            return Files.readString(log, StandardCharsets.UTF_8).contains("mail-relay standalone running as relay.test");
        });
        return p;
    }
}
