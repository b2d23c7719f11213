package net.mailrelay.deploy.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.awaitility.core.ConditionTimeoutException;
import net.mailrelay.delivery.DeliveryWorker;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.Ports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault suite: the relay as a cluster of processes (see {@link RelayCluster}) takes a fixed number of
 * messages from a client that keeps a ledger of every {@code 250}, while one fault after another hits it;
 * after each scenario the ledger is reconciled with what the MX and the senders' MX received
 * ({@link Reconciliation}). Every accepted recipient must be delivered or bounced (lost = 0), every
 * refusal the client saw must be a 4xx, nothing may hang, and the duplicates are counted. Once the mail
 * has settled, nothing may be left behind ({@link EndState}): every worker's in-flight gauge back to 0,
 * and every partition the workers and the bounce service consume committed to its end.
 *
 * <p>Scenarios, each a fault held for the window and then healed while the load runs:
 * <ul>
 *   <li>{@code edge-kill}: SIGKILL an edge (started again at the end of the window);</li>
 *   <li>{@code worker-kill}: SIGKILL a worker (likewise);</li>
 *   <li>{@code broker-kill}: SIGKILL one of the three Kafka brokers (likewise);</li>
 *   <li>{@code bounce-restart}: stop the bounce service, start it at the end of the window;</li>
 *   <li>{@code mx-421}: the MX greets every connection with 421 (and drops those open);</li>
 *   <li>{@code dns-timeout}: the DNS server stops answering the MX query;</li>
 *   <li>{@code mx-drop-in-data}: the MX closes each connection after the first line of DATA;</li>
 *   <li>{@code kafka-freeze}: SIGSTOP every broker, SIGCONT them all when the freeze ends. It lasts the
 *       Kafka window, and at least 10 s longer than the longest timeout of any Kafka client of the relay
 *       ({@link KafkaClientTimeouts}), so that every publish, outcome write and session gives up once;</li>
 *   <li>{@code kafka-down}: SIGKILL every broker, start them again with their data after the Kafka window;</li>
 *   <li>{@code client-pipelining}: no fault; the client pipelines (RFC 2920), several messages per
 *       connection and the next transaction behind each final dot ({@link PipeliningConnection});</li>
 *   <li>{@code hazelcast-loss}: SIGKILL every edge and worker at once (they are every member of the
 *       Hazelcast cluster, so its maps are gone), start them again at the end of the window with the
 *       brokers and the bounce service untouched; the workers rebuild the delivered-recipients ledger
 *       from the delivery log (docs/queue.md), and what they logged of it goes into the timeline;</li>
 *   <li>{@code all}: the first seven at once, the two MX faults one after the other;</li>
 *   <li>on hosts of their own ({@link Hosts}), the partitions: {@code worker-kafka-cut}, {@code worker-hazelcast-cut},
 *       {@code edge-kafka-cut}, {@code mx-slow-lossy}, {@code broker-minority}, and {@code partitions}, all five
 *       at once ({@link Faults}).</li>
 * </ul>
 *
 * <p>{@code mvn verify} runs a short version ({@code all}, then the two Kafka scenarios and
 * {@code client-pipelining}, and {@code partitions} where network namespaces can be made, when every
 * process gets a host of its own; on one cluster, 300 messages each, an 8-second window). The full
 * suite is {@code deploy/faults/run}; system properties {@code faults.scenarios} (comma-separated),
 * {@code faults.messages}, {@code faults.rate} (messages/s offered), {@code faults.sessions},
 * {@code faults.window} (e.g. 60s), {@code faults.kafka-window} (how long the brokers stay frozen or down;
 * the window unless set). Results go to {@code target/fault-suite/summary.md}, each process's
 * log beside it.
 */
class FaultSuiteIT {

    /** Why the partition scenarios cannot run here (no network namespaces), or empty. */
    static final java.util.Optional<String> NO_HOSTS = Hosts.unavailable();
    static final List<String> SCENARIOS = Arrays.stream(System.getProperty("faults.scenarios",
            "all,kafka-freeze,kafka-down,client-pipelining" + (NO_HOSTS.isEmpty() ? ",partitions" : "")).split(","))
            .map(String::trim).filter(s -> !s.isEmpty()).toList();
    /** Every process on a host of its own: when a scenario cuts the network, or {@code faults.hosts=true}. */
    static final boolean ON_HOSTS = Boolean.getBoolean("faults.hosts") || SCENARIOS.stream().anyMatch(Faults::needsHosts);
    static final int MESSAGES = Integer.getInteger("faults.messages", 300);
    static final double RATE = Double.parseDouble(System.getProperty("faults.rate", "20"));
    static final int SESSIONS = Integer.getInteger("faults.sessions", 10);
    static final Duration WINDOW = duration(System.getProperty("faults.window", "8s"));
    static final Duration KAFKA_WINDOW = duration(System.getProperty("faults.kafka-window", WINDOW.toSeconds() + "s"));
    static final Duration DRAIN = duration(System.getProperty("faults.drain", "240s"));
    static final int MAX_IN_FLIGHT = 50;
    static final List<Duration> RETRY_TIERS = List.of(Duration.ofSeconds(2), Duration.ofSeconds(10));
    static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
    /** How long before a connection's end its 250 counts as in the conversation at a kill (see StandaloneCrashIT). */
    static final Duration CONVERSATION = StandaloneCrashIT.CONVERSATION;

    @TempDir
    Path data;

    private final long t0 = System.nanoTime();
    private final List<String> timeline = new ArrayList<>();
    private final Map<String, String> rows = new LinkedHashMap<>();
    private final DnsResponder dns = new DnsResponder();
    private FakeMx mx;
    private FakeMx returns;
    private RelayCluster cluster;
    private Path logs;
    private Faults faults;
    private Hosts hosts;

    /**
     * Issue 29: where network namespaces cannot be made the partition scenarios do not run, and that is a
     * skip, reported as one, not a pass; with {@code CI=true} (CI runs as root) it is a failure.
     */
    @Test
    void thePartitionScenariosRunHere() {
        if ("true".equals(System.getenv("CI"))) {
            assertThat(NO_HOSTS).as("CI must run the partition scenarios (network namespaces)").isEmpty();
        }
        Assumptions.assumeTrue(NO_HOSTS.isEmpty(), () -> "the partition scenarios did not run: " + NO_HOSTS.orElse(""));
        if (System.getProperty("faults.scenarios") == null) {
            assertThat(SCENARIOS).as("the short suite's scenarios").contains("partitions");
        }
    }

    @Test
    void everyAcceptedMessageIsDeliveredOrBouncedWhateverFails() throws Exception {
        Path jar = Path.of(System.getProperty("mailrelay.jar", "target/mail-relay.jar")).toAbsolutePath();
        assertThat(jar).exists();
        logs = jar.getParent().resolve("fault-suite");
        Files.createDirectories(logs);
        try (var old = Files.list(logs)) {
            for (Path f : old.toList()) {
                Files.delete(f); // an earlier run's logs and summary
            }
        }
        assertThat(Faults.SCENARIOS).as("scenarios known").containsAll(SCENARIOS);
        if (NO_HOSTS.isPresent()) {
            note("*** NETWORK NAMESPACES UNAVAILABLE (%s): the partition scenarios do not run here ***", NO_HOSTS.get());
            System.err.println("\n*** FaultSuiteIT: NETWORK NAMESPACES UNAVAILABLE (" + NO_HOSTS.get()
                    + "): the partition scenarios do not run here ***\n");
            assertThat(ON_HOSTS).as("scenarios %s need network namespaces: %s", SCENARIOS, NO_HOSTS.get()).isFalse();
        }
        if (ON_HOSTS) {
            hosts = Hosts.create(RelayCluster.memberNames());
            note("every process on a host of its own: %s on a bridge, the test at %s", RelayCluster.memberNames(), hosts.gateway());
        }
        startSinks();
        List<String> settings = new ArrayList<>(List.of(
                "queue.retry-tiers=" + String.join(",", RETRY_TIERS.stream().map(Topics::label).toList()),
                "queue.min-backoff=2s", "queue.max-backoff=" + MAX_BACKOFF.toSeconds() + "s",
                "delivery.backoff.time=5s", "dns.timeout=2s", "delivery.max-in-flight=" + MAX_IN_FLIGHT,
                "edge.publish-timeout=10s", "delivery.timeout.connect=5s", "delivery.timeout.command=20s"));
        if (hosts != null) {
            settings.add("trusted-networks=127.0.0.0/8,10.201.0.0/16"); // the client comes from the bridge
        }
        cluster = new RelayCluster(jar, logs, data, dns.hostPort(), mx.port(), settings, s -> note("%s", s), hosts).start();
        List<String> relay = cluster.names().stream().filter(n -> !n.startsWith("broker-")).toList();
        KafkaClientTimeouts.Timeout longest = KafkaClientTimeouts.longest(cluster, relay);
        note("longest Kafka client timeout: %s", longest);
        faults = new Faults(cluster, mx, dns, WINDOW, KAFKA_WINDOW, longest, s -> note("%s", s));
        if (hosts != null) {
            faults.onHosts(hosts, returns);
        }

        SoftAssertions soft = new SoftAssertions();
        for (String scenario : SCENARIOS) {
            run(scenario, soft);
        }
        soft.assertAll();
    }

    private void run(String scenario, SoftAssertions soft) throws Exception {
        note("scenario %s: %d messages at %.0f/s over %d sessions, fault held %d s", scenario, MESSAGES, RATE, SESSIONS,
                faults.hold(scenario).toSeconds());
        int mxBefore = mx.deliveryCount();
        int returnsBefore = returns.deliveryCount();
        LoadDriver driver = new LoadDriver(scenario, cluster.edges(), MESSAGES, SESSIONS, RATE, Duration.ofSeconds(60),
                scenario.equals("client-pipelining") ? LoadDriver.Style.PIPELINED : LoadDriver.Style.ONE_PER_CONNECTION).start();
        long loadMillis = (long) (MESSAGES * 1000 / RATE);
        // The fault begins once a quarter of the messages have had their answer (client-pipelining has no
        // fault to begin, and a client that hangs would not get there).
        if (Faults.runsUp(scenario)) {
            int before = MESSAGES / 4 - (int) (RATE * Faults.RUN_UP.toSeconds());
            await().atMost(Duration.ofMillis(loadMillis).plusSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> driver.finished() >= before);
            faults.runUp(scenario);
        }
        if (!scenario.equals("client-pipelining")) {
            await().atMost(Duration.ofMillis(loadMillis).plusSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> driver.finished() >= MESSAGES / 4);
        }
        note("%s: fault injected after %d messages finished", scenario, driver.finished());
        int cutBefore = cutOff();
        int workerKills = faults.inject(scenario);
        // The fault lasts a fixed window while the load goes on: a duration by design, not a wait for
        // something to happen.
        if (scenario.equals("all")) {
            Thread.sleep(WINDOW.toMillis() / 2);
            faults.midway();
            Thread.sleep(WINDOW.toMillis() / 2);
        } else {
            Thread.sleep(faults.hold(scenario).toMillis());
        }
        // Deliveries in the SMTP conversation when the fault began: their 250 came just before a
        // connection ended without QUIT (its worker died, or the MX dropped it).
        int cut = cutOff() - cutBefore;
        note("%s: %d deliveries had their 250 in the last %d ms of a conversation cut during the fault", scenario, cut,
                CONVERSATION.toMillis());
        faults.heal();
        note("%s: healed after %d messages finished", scenario, driver.finished());

        driver.awaitDone(Duration.ofSeconds(Math.max(120, loadMillis / 1000 * 3)));
        note("%s: the client is done: %d in the ledger", scenario, driver.ledger().size());

        long drainStart = System.nanoTime();
        AtomicReference<Reconciliation> drain = new AtomicReference<>();
        try {
            await().atMost(DRAIN).pollInterval(Duration.ofSeconds(1)).until(() -> {
                drain.set(reconcile(scenario, driver, mxBefore, returnsBefore));
                return drain.get().lost.isEmpty();
            });
        } catch (ConditionTimeoutException e) {
            // Still lost after the drain: the soft assertions below name them.
        }
        double drained = (System.nanoTime() - drainStart) / 1e9;
        // Late duplicates still count: wait until nothing has arrived for five seconds.
        AtomicInteger seen = new AtomicInteger(-1);
        await().atMost(DRAIN).pollInterval(Duration.ofMillis(500)).during(Duration.ofSeconds(5))
                .until(() -> {
                    int now = mx.deliveryCount() + returns.deliveryCount();
                    return seen.getAndSet(now) == now;
                });
        Reconciliation r = reconcile(scenario, driver, mxBefore, returnsBefore);
        note("%s: %s (settled %.1f s after the client finished; %d messages reached the MX)", scenario, r.summary(), drained,
                mx.deliveryCount() - mxBefore);
        if (scenario.equals("hazelcast-loss")) {
            for (String worker : cluster.named("worker")) {
                cluster.latestLog(worker).lines().filter(l -> l.contains("ledger rebuilt") || l.contains("no longer covers"))
                        .forEach(l -> note("%s: %s: %s", scenario, worker, l.substring(Math.max(0, l.indexOf(" [") + 1))));
            }
        }
        if (!r.lost.isEmpty()) {
            note("%s: lost %s", scenario, r.lost.stream().limit(20).toList());
        }
        if (r.duplicates > 0) {
            note("%s: duplicated %s", scenario, r.duplicated.stream().limit(20).toList());
        }
        if (r.unledgered > 0) {
            note("%s: unledgered arrivals under queue ids %s", scenario, r.unledgeredIds);
        }
        LoadDriver.Replies replies = driver.replies();
        replies.examples.forEach((kind, examples) -> {
            if (!kind.equals(LoadDriver.ACCEPTED)) {
                note("%s: %d x %s, e.g. %s", scenario, replies.get(kind), kind, examples);
            }
        });
        EndState.Found left = endState(scenario);
        row(scenario, r, replies, drained, driver.slowestDataReply(), left);

        soft.assertThat(driver.ledger()).as("%s: messages accepted", scenario).hasSize(MESSAGES);
        soft.assertThat(r.lost).as("%s: accepted recipients neither delivered nor bounced", scenario).isEmpty();
        soft.assertThat(r.wrongOutcome).as("%s: recipients with the wrong outcome", scenario).isEmpty();
        soft.assertThat(replies.get(LoadDriver.PERMANENT)).as("%s: 5xx replies from an edge", scenario).isZero();
        soft.assertThat(replies.get(LoadDriver.HUNG)).as("%s: edge replies that never came", scenario).isZero();
        if (scenario.startsWith("kafka-")) {
            // Every edge lives: a copy under a queue id its client never saw in a 250 can only be a 451
            // followed by the record, which the edges' transactions rule out (issue 29, item 11).
            soft.assertThat(r.unledgered).as("%s: arrivals under queue ids answered 451 (%s)", scenario, r.unledgeredIds).isZero();
        }
        if (!scenario.equals("edge-kill") && !scenario.equals("all") && !scenario.equals("hazelcast-loss")) {
            soft.assertThat(replies.get(LoadDriver.NO_REPLY)).as("%s: connections lost without a reply", scenario).isZero();
        }
        // Duplicates are counted and explained (docs/faults.md), not forbidden: at-least-once delivery repeats
        // a delivery cut off between the MX's 250 and the ledger entry (a killed worker's in flight), one
        // whose 250 the MX never got out, and a recipient that a rebalance left with two queued copies.
        // The bound only catches a ledger that stopped working.
        soft.assertThat(r.duplicates).as("%s: duplicate deliveries", scenario)
                .isLessThanOrEqualTo((1 + workerKills) * MAX_IN_FLIGHT);
        if (scenario.equals("hazelcast-loss")) {
            // The ledger is rebuilt from the delivery log: only what the kill cut off may come twice.
            soft.assertThat(r.duplicates).as("%s: duplicates beyond the deliveries in the SMTP conversation at the kill",
                    scenario).isLessThanOrEqualTo(cut);
        }
        soft.assertThat(left.inFlight()).as("%s: each worker's mailrelay_queue_in_flight at the end", scenario)
                .allSatisfy((worker, n) -> assertThat(n).as(worker).isZero());
        soft.assertThat(left.behind()).as("%s: partitions whose committed offset is short of their end", scenario).isEmpty();
    }

    /**
     * Waits until the workers hold nothing and every partition is committed to its end, for at most
     * {@code queue.max-backoff} (the longest a settled queue's retry record can still wait to fall due)
     * and a minute for a rebalance; returns what is left.
     */
    private EndState.Found endState(String scenario) {
        List<String> workerTopics = new ArrayList<>(List.of(Topics.DEFAULT.outbound()));
        RETRY_TIERS.forEach(t -> workerTopics.add(Topics.DEFAULT.retryTier(t)));
        List<EndState.Group> groups = List.of(new EndState.Group(DeliveryWorker.groupId(Topics.DEFAULT), workerTopics),
                new EndState.Group(Topics.DEFAULT.prefix() + "mail-relay-bounce", List.of(Topics.DEFAULT.bounce())));
        return EndState.await(cluster, groups, MAX_BACKOFF.plusSeconds(60), line -> note("%s: %s", scenario, line));
    }

    /** The 250s each sink gave in the last {@link #CONVERSATION} of a connection that ended without QUIT, so far. */
    private int cutOff() {
        return mx.deliveriesCutOff(CONVERSATION) + returns.deliveriesCutOff(CONVERSATION);
    }

    /** Reconciles the ledger with what arrived since the scenario began (earlier arrivals are other scenarios' mail). */
    private Reconciliation reconcile(String scenario, LoadDriver driver, int mxBefore, int returnsBefore) {
        List<FakeMx.Delivery> atMx = mx.deliveries();
        List<FakeMx.Delivery> atReturns = returns.deliveries();
        return Reconciliation.of(scenario, driver.ledger(), atMx.subList(mxBefore, atMx.size()),
                atReturns.subList(returnsBefore, atReturns.size()));
    }

    // ---- the outside world ---------------------------------------------------------------------

    /**
     * The MX of sink.test on 127.0.0.2 and that of senders.test (where DSNs go) on 127.0.0.3 (on hosts of their
     * own: the test's second and third addresses on the bridge, DNS on its first), on one port,
     * as the workers connect to every MX on delivery.mx-port. DNS answers with a one-second TTL, so that
     * a DNS outage reaches the workers at once.
     */
    private void startSinks() throws IOException {
        String mxAt = hosts == null ? "127.0.0.2" : hosts.gateway(1);
        String returnsAt = hosts == null ? "127.0.0.3" : hosts.gateway(2);
        if (hosts != null) {
            dns.bindTo(InetAddress.getByName(hosts.gateway()));
        }
        dns.ttl(1).mx("sink.test", 10, "mx.sink.test").address("mx.sink.test", mxAt)
                .mx("senders.test", 10, "mx.senders.test").address("mx.senders.test", returnsAt);
        dns.start();
        for (int attempt = 0; ; attempt++) {
            int port = Ports.free();
            FakeMx a = new FakeMx("mx.sink.test", InetAddress.getByName(mxAt), port);
            FakeMx b = new FakeMx("mx.senders.test", InetAddress.getByName(returnsAt), port);
            try {
                a.start();
                b.start();
                mx = a;
                returns = b;
                return;
            } catch (IllegalStateException e) {
                a.close();
                b.close();
                if (!(e.getCause() instanceof BindException) || attempt > 5) {
                    throw e;
                }
            }
        }
    }

    @AfterEach
    void stopEverything() throws IOException {
        if (cluster != null) {
            cluster.close();
            for (String name : cluster.names()) {
                long errors = cluster.log(name).lines().filter(l -> l.contains(" ERROR ")).count();
                if (errors > 0) {
                    note("%s logged %d ERROR lines", name, errors);
                }
            }
        }
        if (mx != null) {
            mx.close();
            returns.close();
        }
        dns.close();
        if (hosts != null) {
            hosts.close();
        }
        if (logs != null) {
            Files.write(logs.resolve("summary.md"), summary(), StandardCharsets.UTF_8);
        }
    }

    // ---- the report ----------------------------------------------------------------------------

    private void row(String scenario, Reconciliation r, LoadDriver.Replies replies, double drained, Duration slowest,
            EndState.Found left) {
        rows.put(scenario, String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | **%d** | %d | %d | %d | %d | %d | %d | %d | %d | %.1f | %.1f | %s | %d |",
                scenario, r.messages, r.recipients, r.delivered, r.bounced, r.lost.size(), r.duplicates, r.wrongOutcome.size(),
                r.unledgered, replies.get(LoadDriver.TEMPORARY), replies.get(LoadDriver.NO_REPLY), replies.get(LoadDriver.REFUSED),
                replies.get(LoadDriver.PERMANENT), replies.get(LoadDriver.HUNG), slowest.toMillis() / 1000.0, drained,
                left.inFlight().values().stream().map(String::valueOf).collect(Collectors.joining("/")),
                left.behind().size()));
    }

    private List<String> summary() {
        List<String> out = new ArrayList<>();
        out.add("# Fault suite");
        out.add("");
        out.add(String.format(Locale.ROOT, "Scenarios %s; %d messages each at %.0f/s over %d sessions; fault window %d s; "
                + "3 brokers (RF 3, min ISR 2), 2 edges, 3 workers, 1 bounce service.", SCENARIOS, MESSAGES, RATE, SESSIONS,
                WINDOW.toSeconds()));
        out.add("");
        out.add("| scenario | accepted | recipients | delivered | bounced | lost | duplicates | wrong outcome | unledgered "
                + "| 4xx | no reply | refused | 5xx | hung | slowest DATA reply (s) | settled after (s) | in flight at end "
                + "| partitions behind |");
        out.add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        out.addAll(rows.values());
        out.add("");
        out.add("## Timeline");
        out.add("");
        timeline.forEach(l -> out.add("    " + l));
        return out;
    }

    private void note(String format, Object... args) {
        String line = String.format(Locale.ROOT, "[%6.1f s] ", (System.nanoTime() - t0) / 1e9) + String.format(Locale.ROOT, format, args);
        timeline.add(line);
        System.out.println("FaultSuiteIT: " + line);
    }

    private static Duration duration(String s) {
        String t = s.trim();
        if (t.endsWith("ms")) {
            return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        if (t.endsWith("m")) {
            return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        return Duration.ofSeconds(Long.parseLong(t.endsWith("s") ? t.substring(0, t.length() - 1) : t));
    }
}
