package net.mailrelay.deploy.faults;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.testing.Ports;
import org.apache.kafka.common.Uuid;

/**
 * The relay as a cluster of processes on this machine, every one the built jar: three Kafka brokers
 * (each broker and controller of one KRaft quorum; the relay's topics get three replicas, two in sync),
 * two edges, three workers and a bounce service, with the edges and workers in one Hazelcast cluster.
 * Any member can be killed (SIGKILL), stopped (SIGTERM), frozen (SIGSTOP) and thawed (SIGCONT), and
 * started again with the same command and data; each start logs to its own file under the log directory.
 *
 * <p>Everything listens on 127.0.0.1, or, given {@link Hosts}, each member on the address of a host of
 * its own (a network namespace) that faults can cut off; each relay role's HTTP server ({@code /metrics})
 * on a port of its own. The workers find the MX through the DNS server given and connect to it on the port given. The
 * relay roles log with {@code relay-logback.xml}, which adds the configuration of every Kafka client.
 */
final class RelayCluster implements AutoCloseable {

    static final int BROKERS = 3;
    static final int EDGES = 2;
    static final int WORKERS = 3;

    /** Every member's name, as {@link Hosts} are made for them. */
    static List<String> memberNames() {
        List<String> names = new ArrayList<>();
        IntStream.range(0, BROKERS).forEach(i -> names.add("broker-" + (i + 1)));
        names.add("bounce");
        IntStream.range(0, WORKERS).forEach(i -> names.add("worker-" + (i + 1)));
        IntStream.range(0, EDGES).forEach(i -> names.add("edge-" + (i + 1)));
        return names;
    }

    /** One process of the cluster and how to start it again. */
    static final class Member {
        final String name;
        final List<String> command;
        final String readyLine;
        Process process;
        int starts;

        Member(String name, List<String> command, String readyLine) {
            this.name = name;
            this.command = command;
            this.readyLine = readyLine;
        }

        Path log(Path logs) {
            return logs.resolve(name + (starts > 1 ? "." + starts : "") + ".log");
        }
    }

    private final Path jar;
    private final Path logs;
    private final Path data;
    private final Consumer<String> note;
    private final Map<String, Member> members = new LinkedHashMap<>();
    private final List<Integer> brokerPorts = IntStream.range(0, BROKERS).mapToObj(i -> Ports.free()).toList();
    private final List<Integer> edgePorts = IntStream.range(0, EDGES).mapToObj(i -> Ports.free()).toList();
    private final Map<String, Integer> httpPorts = new LinkedHashMap<>();
    private final Hosts hosts;

    /**
     * @param settings extra {@code --set KEY=VALUE} for every relay role (not the brokers)
     */
    RelayCluster(Path jar, Path logs, Path data, String dnsServer, int mxPort, List<String> settings, Consumer<String> note) {
        this(jar, logs, data, dnsServer, mxPort, settings, note, null);
    }

    /** @param hosts a host of its own for each member (named as the members are), or null: all on 127.0.0.1 */
    RelayCluster(Path jar, Path logs, Path data, String dnsServer, int mxPort, List<String> settings, Consumer<String> note,
            Hosts hosts) {
        this.hosts = hosts;
        this.jar = jar;
        this.logs = logs;
        this.data = data;
        this.note = note;
        List<Integer> controllerPorts = IntStream.range(0, BROKERS).mapToObj(i -> Ports.free()).toList();
        String quorum = IntStream.range(0, BROKERS).mapToObj(i -> (i + 1) + "@" + at("broker-" + (i + 1)) + ":" + controllerPorts.get(i))
                .collect(Collectors.joining(","));
        String clusterId = Uuid.randomUuid().toString();
        for (int i = 0; i < BROKERS; i++) {
            add("broker-" + (i + 1), "mail-relay broker running at ", List.of("-Xmx384m"), "broker",
                    "--data-dir", data.resolve("broker-" + (i + 1)).toString(),
                    "--set", "broker.node-id=" + (i + 1), "--set", "broker.quorum=" + quorum,
                    "--set", "broker.cluster-id=" + clusterId, "--set", "broker.port=" + brokerPorts.get(i),
                    "--set", "broker.controller-port=" + controllerPorts.get(i), "--set", "broker.bind-address=" + at("broker-" + (i + 1)),
                    // Three replicas make an acknowledged record durable, as in production Kafka.
                    "--set", "broker.flush-each-message=false");
        }
        List<Integer> hazelcastPorts = IntStream.range(0, EDGES + WORKERS).mapToObj(i -> Ports.free()).toList();
        String hazelcast = IntStream.range(0, EDGES + WORKERS).mapToObj(i -> at(i < EDGES ? "edge-" + (i + 1) : "worker-" + (i - EDGES + 1))
                + ":" + hazelcastPorts.get(i)).collect(Collectors.joining(","));
        List<String> common = new ArrayList<>(List.of("--bootstrap-servers", bootstrapServers(),
                "--set", "delivery.mx-port=" + mxPort,
                "--set", "kafka.replication-factor=3", "--set", "kafka.min-insync-replicas=2",
                "--set", "kafka.partitions=6"));
        settings.forEach(s -> common.addAll(List.of("--set", s)));
        ClusterFiles secrets = ClusterFiles.in(data.resolve("cluster"));
        addRelay("bounce", "mail-relay bounce running as ", with(List.of("bounce", "--hostname", "bounce.test"), common));
        for (int i = 0; i < WORKERS; i++) {
            addRelay("worker-" + (i + 1), "mail-relay worker running as ", with(List.of("worker",
                    "--hostname", "worker-" + (i + 1) + ".test", "--hazelcast-members", hazelcast, "--dns-server", dnsServer,
                    "--set", "hazelcast.port=" + hazelcastPorts.get(EDGES + i),
                    "--set", "hazelcast.bind-address=" + at("worker-" + (i + 1))), with(secrets.workerArgs(), common)));
        }
        for (int i = 0; i < EDGES; i++) {
            addRelay("edge-" + (i + 1), "mail-relay edge running as ", with(List.of("edge",
                    "--hostname", "edge-" + (i + 1) + ".test", "--hazelcast-members", hazelcast,
                    "--set", "hazelcast.port=" + hazelcastPorts.get(i), "--smtp-port", Integer.toString(edgePorts.get(i)),
                    "--submission-port", "0", "--smtps-port", "0", "--set", "smtp.tls=none",
                    "--set", "hazelcast.bind-address=" + at("edge-" + (i + 1)), "--set", "smtp.bind-address=" + at("edge-" + (i + 1))),
                    with(secrets.edgeArgs(), common)));
        }
    }

    private static List<String> with(List<String> first, List<String> rest) {
        List<String> all = new ArrayList<>(first);
        all.addAll(rest);
        return all;
    }

    private void addRelay(String name, String readyLine, List<String> args) {
        int http = Ports.free();
        httpPorts.put(name, http);
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of("--http-port", Integer.toString(http), "--set", "http.bind-address=" + at(name)));
        add(name, readyLine, List.of("-Xmx256m", "-Dlogback.configurationFile=" + relayLogback()), all.toArray(String[]::new));
    }

    private static String relayLogback() {
        try {
            return Path.of(RelayCluster.class.getResource("relay-logback.xml").toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private void add(String name, String readyLine, List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmOptions);
        // A correctness suite on a small machine: ten JVMs share it, so C1 only and one GC thread.
        command.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
        command.addAll(net.mailrelay.deploy.RelayJvm.classData(jar));
        command.addAll(List.of("-jar", jar.toString()));
        command.addAll(List.of(args));
        members.put(name, new Member(name, command, readyLine));
    }

    /**
     * Starts the brokers, then everything else, and waits until every member says it is running. If one
     * does not, every member started so far is stopped before the failure is thrown: the caller has no
     * cluster to close.
     */
    RelayCluster start() {
        try {
            List<String> brokers = members.keySet().stream().filter(n -> n.startsWith("broker-")).toList();
            brokers.forEach(this::launch);
            brokers.forEach(this::awaitReady);
            note.accept("3 brokers running at " + bootstrapServers());
            List<String> rest = members.keySet().stream().filter(n -> !n.startsWith("broker-")).toList();
            rest.forEach(this::launch);
            rest.forEach(this::awaitReady);
            note.accept("running: " + String.join(", ", rest) + "; edges on ports " + edgePorts);
            return this;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    String bootstrapServers() {
        return IntStream.range(0, BROKERS).mapToObj(i -> at("broker-" + (i + 1)) + ":" + brokerPorts.get(i))
                .collect(Collectors.joining(","));
    }

    /** Where a member listens: 127.0.0.1, or the address of its own host. */
    String at(String name) {
        return hosts == null ? "127.0.0.1" : hosts.address(name);
    }

    /** The edges' SMTP listeners. */
    List<java.net.InetSocketAddress> edges() {
        return IntStream.range(0, EDGES).mapToObj(i -> new java.net.InetSocketAddress(at("edge-" + (i + 1)), edgePorts.get(i)))
                .toList();
    }

    List<String> names() {
        return List.copyOf(members.keySet());
    }

    /** Members whose name starts with {@code role-}: broker, worker, edge. */
    List<String> named(String role) {
        return members.keySet().stream().filter(n -> n.startsWith(role + "-")).toList();
    }

    /** The port of a relay role's HTTP server ({@code /metrics}, health); the same across restarts. */
    int httpPort(String name) {
        return httpPorts.get(name);
    }

    boolean alive(String name) {
        Process p = members.get(name).process;
        return p != null && p.isAlive();
    }

    /** SIGKILL: no shutdown hook, no final commit, no goodbye to the cluster. */
    void kill(String name) {
        Member m = members.get(name);
        m.process.destroyForcibly();
        waitFor(m);
        note.accept(name + " killed (SIGKILL)");
    }

    /** SIGKILL to every one named at once, then waits for them all: no one of them outlives another. */
    void killAll(List<String> names) {
        names.forEach(n -> members.get(n).process.destroyForcibly());
        names.forEach(n -> waitFor(members.get(n)));
        note.accept(String.join(", ", names) + " killed at once (SIGKILL)");
    }

    /**
     * SIGSTOP: the process stops in its tracks, sockets open and nothing answered, as a broker does in a
     * long GC pause, a VM migration or a disk that hangs. Its peers see only silence.
     */
    void freeze(String name) {
        signal(name, "STOP");
        note.accept(name + " frozen (SIGSTOP)");
    }

    /** SIGCONT: a frozen process goes on where it stopped, its timers suddenly far behind. */
    void thaw(String name) {
        signal(name, "CONT");
        note.accept(name + " thawed (SIGCONT)");
    }

    private void signal(String name, String signal) {
        long pid = members.get(name).process.pid();
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
            String output = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + pid + " (" + name + ") failed: " + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while signalling " + name, e);
        }
    }

    /** SIGTERM: the process shuts down as an operator's restart would. */
    void stop(String name) {
        Member m = members.get(name);
        m.process.destroy();
        waitFor(m);
        note.accept(name + " stopped (SIGTERM, exit " + m.process.exitValue() + ")");
    }

    /** Starts stopped or killed members again with the same command and data, and waits until they run. */
    void restart(List<String> names) {
        names.forEach(this::launch);
        names.forEach(this::awaitReady);
        note.accept(String.join(", ", names) + " running again");
    }

    private void waitFor(Member m) {
        try {
            if (!m.process.waitFor(90, TimeUnit.SECONDS)) {
                m.process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void launch(String name) {
        Member m = members.get(name);
        m.starts++;
        try {
            m.process = new ProcessBuilder(hosts == null ? m.command : hosts.command(name, m.command)).redirectErrorStream(true).redirectOutput(m.log(logs).toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void awaitReady(String name) {
        Member m = members.get(name);
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(250)).until(() -> {
            if (!m.process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + m.process.exitValue() + "; its log:\n" + lastLines(m, 60));
            }
            return read(m.log(logs)).contains(m.readyLine);
        });
    }

    /** What a member has logged since its latest start. */
    String latestLog(String name) {
        return read(members.get(name).log(logs));
    }

    /** Everything a member has logged, over all its starts. */
    String log(String name) {
        Member m = members.get(name);
        StringBuilder all = new StringBuilder();
        for (int i = 1; i <= m.starts; i++) {
            all.append(read(logs.resolve(name + (i > 1 ? "." + i : "") + ".log")));
        }
        return all.toString();
    }

    private String lastLines(Member m, int n) {
        List<String> lines = read(m.log(logs)).lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path data() {
        return data;
    }

    @Override
    public void close() {
        // The relay roles first, so that nothing is left waiting on a broker that is gone.
        List<Member> order = new ArrayList<>(members.values());
        java.util.Collections.reverse(order);
        for (Member m : order) {
            if (m.process != null && m.process.isAlive()) {
                m.process.destroyForcibly();
            }
        }
        for (Member m : order) {
            if (m.process != null) {
                waitFor(m);
            }
        }
    }
}
