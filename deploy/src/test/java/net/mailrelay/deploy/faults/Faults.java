package net.mailrelay.deploy.faults;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;

/**
 * What each scenario of the suite does to the cluster and the outside world, how long the fault is
 * held, and how it is healed. The scenarios are listed in {@link FaultSuiteIT}.
 */
final class Faults {

    static final List<String> SCENARIOS = List.of("edge-kill", "worker-kill", "broker-kill", "bounce-restart", "mx-421",
            "dns-timeout", "mx-drop-in-data", "kafka-freeze", "kafka-down", "client-pipelining", "hazelcast-loss", "all",
            "worker-kafka-cut", "worker-hazelcast-cut", "edge-kafka-cut", "mx-slow-lossy", "broker-minority", "partitions");
    /** The scenarios that cut the network between hosts: they need {@link Hosts}. */
    static final List<String> PARTITIONS = List.of("worker-kafka-cut", "worker-hazelcast-cut", "edge-kafka-cut", "mx-slow-lossy",
            "broker-minority", "partitions");
    /** Added round trip of the MX in mx-slow-lossy (the kernel here has no netem: the fake MX holds each reply). */
    static final Duration MX_DELAY = Duration.ofMillis(200);
    static final int MX_LOSS_PERCENT = 5;
    /** How far past the longest Kafka client timeout a freeze goes: the clients' timers must fire and be acted on. */
    static final Duration FREEZE_MARGIN = Duration.ofSeconds(10);
    /**
     * For the last {@code RUN_UP} before a Kafka fault the MX takes {@code RUN_UP_DOT_DELAY} over each
     * final dot, so that the workers have deliveries in flight when the fault begins: their outcome
     * writes are what it is for. At the suite's rates a delivery to the fake MX takes milliseconds, and
     * the fault would otherwise find the workers idle.
     */
    static final Duration RUN_UP = Duration.ofSeconds(3);
    static final Duration RUN_UP_DOT_DELAY = Duration.ofSeconds(2);

    private final RelayCluster cluster;
    private final FakeMx mx;
    private final DnsResponder dns;
    private final Duration window;
    private final Duration kafkaWindow;
    private final KafkaClientTimeouts.Timeout longestClientTimeout;
    private final Consumer<String> note;
    private final List<String> frozen = new ArrayList<>();
    private final List<String[]> cuts = new ArrayList<>();
    private Hosts hosts;
    private FakeMx returns;

    Faults(RelayCluster cluster, FakeMx mx, DnsResponder dns, Duration window, Duration kafkaWindow,
            KafkaClientTimeouts.Timeout longestClientTimeout, Consumer<String> note) {
        this.cluster = cluster;
        this.mx = mx;
        this.dns = dns;
        this.window = window;
        this.kafkaWindow = kafkaWindow;
        this.longestClientTimeout = longestClientTimeout;
        this.note = note;
    }

    /** For the partition scenarios: the hosts the cluster runs on, and the MX of the senders (where DSNs go). */
    Faults onHosts(Hosts hosts, FakeMx returns) {
        this.hosts = hosts;
        this.returns = returns;
        return this;
    }

    static boolean needsHosts(String scenario) {
        return PARTITIONS.contains(scenario);
    }

    /** Drops everything between {@code a} and each of {@code others}, both ways, until {@link #heal}. */
    private void cut(String a, List<String> others) {
        for (String b : others) {
            if (cuts.stream().anyMatch(c -> c[0].equals(a) && c[1].equals(b) || c[0].equals(b) && c[1].equals(a))) {
                continue; // cut already, by another part of the same scenario
            }
            try {
                hosts.cut(a, b);
                hosts.cut(b, a);
                cuts.add(new String[] {a, b});
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        note.accept(a + " cut off from " + String.join(", ", others));
    }

    private List<String> others(String... roles) {
        List<String> out = new ArrayList<>();
        for (String role : roles) {
            out.addAll(role.equals("bounce") ? List.of("bounce") : cluster.named(role));
        }
        return out;
    }

    /** How long the scenario's fault lasts ({@code all} holds its MX faults half of it each). */
    Duration hold(String scenario) {
        return switch (scenario) {
            case "kafka-freeze" -> {
                Duration floor = longestClientTimeout.value().plus(FREEZE_MARGIN);
                yield kafkaWindow.compareTo(floor) >= 0 ? kafkaWindow : floor;
            }
            case "kafka-down" -> kafkaWindow;
            case "client-pipelining" -> Duration.ZERO; // the client is the fault, for the whole scenario
            default -> window;
        };
    }

    /** Injects the scenario's fault; returns how many workers it killed. */
    int inject(String scenario) {
        if (!SCENARIOS.contains(scenario)) {
            throw new IllegalArgumentException("no scenario " + scenario);
        }
        boolean all = scenario.equals("all");
        int workerKills = 0;
        if (all || scenario.equals("edge-kill")) {
            cluster.kill("edge-1");
        }
        if (all || scenario.equals("worker-kill")) {
            cluster.kill("worker-2");
            workerKills++;
        }
        if (all || scenario.equals("broker-kill")) {
            cluster.kill("broker-2");
        }
        if (all || scenario.equals("bounce-restart")) {
            cluster.stop("bounce");
        }
        if (all || scenario.equals("mx-421")) {
            mx.mode(FakeMx.Mode.GREET_421).closeConnections();
            note.accept("the MX greets with 421 and has dropped its open connections");
        }
        if (all || scenario.equals("dns-timeout")) {
            dns.silent("sink.test");
            note.accept("DNS no longer answers for sink.test");
        }
        if (scenario.equals("mx-drop-in-data")) {
            mx.mode(FakeMx.Mode.DISCONNECT_DURING_DATA).closeConnections();
            note.accept("the MX drops every connection after the first line of DATA");
        }
        if (scenario.equals("kafka-freeze")) {
            note.accept(String.format("every broker freezes for %d s (Kafka window %d s; longest client timeout: %s)",
                    hold(scenario).toSeconds(), kafkaWindow.toSeconds(), longestClientTimeout));
            for (String broker : cluster.named("broker")) {
                cluster.freeze(broker);
                frozen.add(broker);
            }
        }
        if (scenario.equals("kafka-down")) {
            cluster.named("broker").forEach(cluster::kill);
        }
        if (scenario.equals("hazelcast-loss")) {
            // Every Hazelcast member at once: the claims, limits, retry state and the delivered-recipients
            // ledger go with them, and the workers that start again find an empty cluster.
            List<String> members = new ArrayList<>(cluster.named("edge"));
            members.addAll(cluster.named("worker"));
            note.accept(String.format("hazelcast-loss: %d deliveries in flight at the workers just before the kill",
                    inFlight()));
            cluster.killAll(members);
            workerKills += cluster.named("worker").size();
        }
        boolean partitions = scenario.equals("partitions");
        if (needsHosts(scenario) && hosts == null) {
            throw new IllegalStateException(scenario + " needs hosts of their own (network namespaces)");
        }
        if (partitions || scenario.equals("worker-kafka-cut")) {
            // It keeps Hazelcast: its claims and slots stay, its partitions move once its session times out.
            cut("worker-1", others("broker"));
        }
        if (partitions || scenario.equals("worker-hazelcast-cut")) {
            // Split brain: it keeps Kafka and its partitions, and forms a Hazelcast cluster of one.
            List<String> members = others("edge", "worker");
            members.remove("worker-3");
            cut("worker-3", members);
        }
        if (partitions || scenario.equals("edge-kafka-cut")) {
            cut("edge-1", others("broker"));
        }
        if (partitions || scenario.equals("mx-slow-lossy")) {
            for (String worker : cluster.named("worker")) {
                for (String sink : List.of(Hosts.GATEWAY + "-1", Hosts.GATEWAY + "-2")) { // the MX and the senders' MX
                    try {
                        hosts.lose(worker, sink, MX_LOSS_PERCENT);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    cuts.add(new String[] {worker, sink});
                }
            }
            mx.replyDelay(MX_DELAY);
            returns.replyDelay(MX_DELAY);
            note.accept(String.format("every worker loses %d%% of its packets to the MX hosts, whose every reply takes %d ms more",
                    MX_LOSS_PERCENT, MX_DELAY.toMillis()));
        }
        if (partitions || scenario.equals("broker-minority")) {
            // The test itself still reaches it, as an operator would.
            cut("broker-3", others("broker", "edge", "worker", "bounce").stream().filter(n -> !n.equals("broker-3")).toList());
        }
        // Deliveries already at the dot keep their delay; the rest go at full speed again.
        mx.finalDotDelay(Duration.ZERO);
        if (scenario.equals("client-pipelining")) {
            note.accept("no fault: the client pipelines, " + LoadDriver.MESSAGES_PER_CONNECTION + " messages per connection");
        }
        return workerKills;
    }

    /** Halfway through the window of {@code all}: the second MX fault replaces the first. */
    void midway() {
        note.accept("all: the MX now drops connections in DATA instead of greeting with 421");
        mx.mode(FakeMx.Mode.DISCONNECT_DURING_DATA).closeConnections();
    }

    /** Whether the scenario wants the workers busy when its fault begins ({@link #runUp}). */
    static boolean runsUp(String scenario) {
        return scenario.equals("kafka-freeze") || scenario.equals("kafka-down") || scenario.equals("hazelcast-loss");
    }

    /** Slows the MX's final dots; {@link #inject} sets them back. */
    void runUp(String scenario) {
        mx.finalDotDelay(RUN_UP_DOT_DELAY);
        note.accept(String.format("%s: the MX answers final dots after %d s, for the last %d s before the fault", scenario,
                RUN_UP_DOT_DELAY.toSeconds(), RUN_UP.toSeconds()));
    }

    private long inFlight() {
        return EndState.inFlight(cluster).values().stream().mapToLong(Long::longValue).sum();
    }

    /** Ends every fault: the MX and DNS behave, frozen brokers go on, dead members start again with their data. */
    void heal() {
        for (String[] c : cuts) {
            try {
                hosts.heal(c[0], c[1]);
                if (!c[1].startsWith(Hosts.GATEWAY)) {
                    hosts.heal(c[1], c[0]);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        if (!cuts.isEmpty()) {
            note.accept("every cut healed");
        }
        cuts.clear();
        if (returns != null) {
            mx.replyDelay(Duration.ZERO);
            returns.replyDelay(Duration.ZERO);
        }
        mx.mode(FakeMx.Mode.NORMAL);
        dns.clearFailure("sink.test");
        frozen.forEach(cluster::thaw);
        frozen.clear();
        List<String> down = cluster.names().stream().filter(n -> !cluster.alive(n)).toList();
        if (!down.isEmpty()) {
            cluster.restart(down);
        }
    }
}
