package net.mailrelay.deploy.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Hosts of their own on this machine, for faults loopback cannot make: each one a Linux network
 * namespace with one address on a bridge that the test makes, so that a process started in it
 * ({@link #command}) talks to the others over a network that can be cut. The test process itself sits
 * on the bridge at {@link #gateway()}, where the fake MX and DNS of a test listen.
 *
 * <p>Faults: {@link #cut} drops every packet between two hosts (nftables, in the first one's
 * namespace), {@link #lose} drops a share of them at random. This machine's kernel has no netem
 * scheduler (tc answers "Specified qdisc kind is unknown"), so delay is not made here.
 *
 * <p>Everything is named after the run ({@code mrf<run>...}); {@link #close} deletes every namespace
 * and link it made, and a shutdown hook does it too if the JVM stops first. Needs root and iproute2
 * and nftables; {@link #unavailable} says why not.
 */
final class Hosts implements AutoCloseable {

    /** The test process, as a host name for {@link #cut} and {@link #lose}. */
    static final String GATEWAY = "gateway";
    static final int EXTRA_GATEWAYS = 3;

    private final String run;
    private final int subnet;
    private final Map<String, Integer> hosts = new LinkedHashMap<>();
    private final Thread cleanup = new Thread(this::delete, "hosts-cleanup");
    private boolean closed;

    private Hosts(String run, int subnet) {
        this.run = run;
        this.subnet = subnet;
    }

    /** Why namespaces cannot be made here, or empty when they can. */
    static Optional<String> unavailable() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return Optional.of("not root (user " + System.getProperty("user.name") + ")");
        }
        for (String tool : List.of("ip", "nft")) {
            if (List.of("/usr/sbin/", "/sbin/", "/usr/bin/").stream().noneMatch(d -> new java.io.File(d + tool).canExecute())) {
                return Optional.of("no " + tool + " (apt-get install " + (tool.equals("ip") ? "iproute2" : "nftables") + ")");
            }
        }
        String probe = "mrfprobe" + ProcessHandle.current().pid();
        try {
            run("ip", "netns", "add", probe);
            run("ip", "netns", "delete", probe);
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("cannot make a network namespace: " + e.getMessage());
        }
    }

    /** A bridge and one namespace per name, each with its address; the names as the caller will use them. */
    static Hosts create(List<String> names) throws IOException {
        long pid = ProcessHandle.current().pid();
        Hosts h = new Hosts(Long.toString(pid % 100_000, 36), (int) (pid % 200) + 20);
        Runtime.getRuntime().addShutdownHook(h.cleanup);
        try {
            run("ip", "link", "add", h.bridge(), "type", "bridge");
            run("ip", "addr", "add", h.gateway() + "/24", "dev", h.bridge());
            for (int extra = 1; extra <= EXTRA_GATEWAYS; extra++) {
                run("ip", "addr", "add", h.gateway(extra) + "/24", "dev", h.bridge());
            }
            run("ip", "link", "set", h.bridge(), "up");
            int i = 10;
            for (String name : names) {
                h.hosts.put(name, i);
                String ns = h.namespace(name);
                String veth = "mrf" + h.run + "h" + i;
                run("ip", "netns", "add", ns);
                run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
                run("ip", "link", "set", veth, "master", h.bridge(), "up");
                run("ip", "-n", ns, "addr", "add", h.address(name) + "/24", "dev", "eth0");
                run("ip", "-n", ns, "link", "set", "eth0", "up");
                run("ip", "-n", ns, "link", "set", "lo", "up");
                run("ip", "-n", ns, "route", "add", "default", "via", h.gateway());
                i++;
            }
            return h;
        } catch (IOException | RuntimeException e) {
            h.close();
            throw e;
        }
    }

    /** The address of host {@code name}, or of the test process for {@link #GATEWAY} ({@code gateway-N} for {@link #gateway(int)}). */
    String address(String name) {
        if (name.equals(GATEWAY)) {
            return gateway();
        }
        if (name.startsWith(GATEWAY + "-")) {
            return gateway(Integer.parseInt(name.substring(GATEWAY.length() + 1)));
        }
        Integer i = hosts.get(name);
        if (i == null) {
            throw new IllegalArgumentException("no host " + name + " among " + hosts.keySet());
        }
        return "10.201." + subnet + "." + i;
    }

    /** The test process's own address on the bridge. */
    String gateway() {
        return gateway(0);
    }

    /** More addresses of the test process on the bridge, 1 to {@link #EXTRA_GATEWAYS}: one per fake server that needs its own. */
    String gateway(int n) {
        if (n < 0 || n > EXTRA_GATEWAYS) {
            throw new IllegalArgumentException("gateway addresses are 0 to " + EXTRA_GATEWAYS);
        }
        return "10.201." + subnet + "." + (1 + n);
    }

    /** {@code command} as run on host {@code name}. */
    List<String> command(String name, List<String> command) {
        List<String> out = new ArrayList<>(List.of("ip", "netns", "exec", namespace(name)));
        out.addAll(command);
        return out;
    }

    /** Drops every packet between {@code a} and {@code b}, both ways, until {@link #heal}. */
    void cut(String a, String b) throws IOException {
        nft(a, "table inet mrf_" + tableOf(b) + " {\n"
                + " chain out { type filter hook output priority 0; ip daddr " + address(b) + " drop; }\n"
                + " chain in { type filter hook input priority 0; ip saddr " + address(b) + " drop; }\n}\n");
    }

    /** Drops {@code percent} of the packets from {@code a} to {@code b}, at random, until {@link #heal}. */
    void lose(String a, String b, int percent) throws IOException {
        nft(a, "table inet mrf_" + tableOf(b) + " {\n"
                + " chain out { type filter hook output priority 0; ip daddr " + address(b)
                + (percent >= 100 ? "" : " numgen random mod 100 < " + percent) + " drop; }\n}\n");
    }

    /** Undoes {@link #cut} or {@link #lose} between {@code a} and {@code b}. */
    void heal(String a, String b) throws IOException {
        run("ip", "netns", "exec", namespace(a), "nft", "delete", "table", "inet", "mrf_" + tableOf(b));
    }

    private String tableOf(String host) {
        return address(host).replace('.', '_');
    }

    /** Names of this run's namespaces that exist now, for a test of the cleanup. */
    List<String> existingNamespaces() throws IOException {
        Process p = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        List<String> mine = new ArrayList<>();
        for (String line : out.split("\n")) {
            String ns = line.split(" ")[0];
            if (ns.startsWith("mrf" + run + "-")) {
                mine.add(ns);
            }
        }
        return mine;
    }

    private void nft(String host, String rules) throws IOException {
        Process p = new ProcessBuilder("ip", "netns", "exec", namespace(host), "nft", "-f", "-").redirectErrorStream(true).start();
        p.getOutputStream().write(rules.getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        finish(p, "nft -f - in " + namespace(host));
    }

    private String namespace(String name) {
        return "mrf" + run + "-" + name;
    }

    private String bridge() {
        return "mrf" + run + "br";
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        delete();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
    }

    /** Deleting a namespace deletes the veth pair in it; the bridge goes last. Each step is tried whatever failed before. */
    private void delete() {
        for (String name : hosts.keySet()) {
            quietly("ip", "netns", "delete", namespace(name));
        }
        quietly("ip", "link", "delete", bridge());
    }

    private static void quietly(String... command) {
        try {
            run(command);
        } catch (IOException | RuntimeException ignored) {
            // already gone, or never made
        }
    }

    private static void run(String... command) throws IOException {
        finish(new ProcessBuilder(command).redirectErrorStream(true).start(), String.join(" ", command));
    }

    private static void finish(Process p, String what) throws IOException {
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(what + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException(what + " interrupted");
        }
    }
}
