package net.mailrelay.deploy.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * bench idle: opens N SMTP connections from one thread (non-blocking sockets), reads each greeting, says
 * EHLO and then leaves them idle for {@code --hold} seconds, as a crowd of slow clients would. Meanwhile
 * it times fresh connections up to their 220 ({@code --probes}), and it counts the idle sessions the
 * server closes. Prints {@code idle_ready} when all are open, so a script can measure the server then.
 */
@Command(name = "idle", mixinStandardHelpOptions = true,
        description = "Hold N idle SMTP sessions (after EHLO) open and check that a new client still gets a prompt 220.")
public final class IdleCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--server", paramLabel = "HOST:PORT", required = true, description = "SMTP server.")
    String server;
    @Option(names = {"-n", "--connections"}, defaultValue = "10000", description = "Idle sessions (default ${DEFAULT-VALUE}).")
    int connections;
    @Option(names = "--parallel-connects", defaultValue = "200", description = "Sessions being set up at once (default ${DEFAULT-VALUE}).")
    int parallel;
    @Option(names = "--hold", defaultValue = "60", paramLabel = "SECONDS", description = "How long to keep them open (default ${DEFAULT-VALUE}).")
    int holdSeconds;
    @Option(names = "--probes", defaultValue = "5", description = "Fresh connections timed to their greeting during the hold.")
    int probes;
    @Option(names = "--setup-timeout", defaultValue = "180", paramLabel = "SECONDS", description = "Longest time to open them all.")
    int setupTimeout;

    private enum State { CONNECTING, GREETING, EHLO, IDLE }

    private static final class Conn {
        final SocketChannel channel;
        State state = State.CONNECTING;
        final StringBuilder line = new StringBuilder();

        Conn(SocketChannel channel) {
            this.channel = channel;
        }
    }

    private final Map<String, Integer> failures = new TreeMap<>();
    private final Map<String, Integer> idleReplies = new TreeMap<>();
    private final ByteBuffer buffer = ByteBuffer.allocate(4096);
    private int pending;
    private int established;
    private int closedWhileIdle;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        InetSocketAddress address = LoadCommand.address(server);
        List<Conn> all = new ArrayList<>(connections);
        long start = System.nanoTime();
        long setupDeadline = start + TimeUnit.SECONDS.toNanos(setupTimeout);
        try (Selector selector = Selector.open()) {
            int opened = 0;
            while (established + failed() < connections && System.nanoTime() < setupDeadline) {
                while (opened < connections && pending < parallel) {
                    SocketChannel ch = SocketChannel.open();
                    ch.configureBlocking(false);
                    Conn c = new Conn(ch);
                    all.add(c);
                    opened++;
                    pending++;
                    try {
                        if (ch.connect(address)) {
                            c.state = State.GREETING;
                            ch.register(selector, SelectionKey.OP_READ, c);
                        } else {
                            ch.register(selector, SelectionKey.OP_CONNECT, c);
                        }
                    } catch (IOException e) {
                        fail(c, "connect");
                    }
                }
                pump(selector, 100);
            }
            double setup = (System.nanoTime() - start) / 1e9;
            out.println("idle_ready");
            out.println("idle_requested=" + connections);
            out.println("idle_established=" + established);
            out.println("idle_setup_s=" + String.format(Locale.ROOT, "%.1f", setup));
            out.println("idle_setup_failures=" + describe(failures));
            out.flush();

            long holdEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(holdSeconds);
            long probeEvery = TimeUnit.SECONDS.toNanos(holdSeconds) / (probes + 1);
            long nextProbe = System.nanoTime() + probeEvery;
            List<String> probeResults = new ArrayList<>();
            long probeMaxMicros = 0;
            while (System.nanoTime() < holdEnd) {
                pump(selector, 200);
                if (probeResults.size() < probes && System.nanoTime() >= nextProbe) {
                    long[] r = probe(address);
                    probeResults.add(r[0] + ":" + Latencies.millis(r[1]) + "ms");
                    probeMaxMicros = Math.max(probeMaxMicros, r[1]);
                    nextProbe += probeEvery;
                }
            }
            out.println("idle_probe_greetings=" + String.join(",", probeResults));
            out.println("idle_probe_max_ms=" + Latencies.millis(probeMaxMicros));
            out.println("idle_replies_while_idle=" + describe(idleReplies));
            out.println("idle_closed_by_server=" + closedWhileIdle);
            out.println("idle_still_open=" + (established - closedWhileIdle));
            out.flush();
        } finally {
            for (Conn c : all) {
                try {
                    c.channel.close();
                } catch (IOException ignored) {
                    // closing everything at the end
                }
            }
        }
        return 0;
    }

    private int failed() {
        return failures.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** A fresh blocking connection: {reply code of its greeting (or -1), microseconds from connect to that line}. */
    private static long[] probe(InetSocketAddress address) {
        long t0 = System.nanoTime();
        try (SmtpLines c = new SmtpLines(address, 30_000)) {
            SmtpLines.Reply greeting = c.reply();
            long micros = (System.nanoTime() - t0) / 1000;
            if (greeting.code() == 220) {
                c.command("QUIT");
            }
            return new long[] {greeting.code(), micros};
        } catch (IOException e) {
            return new long[] {-1, (System.nanoTime() - t0) / 1000};
        }
    }

    private void pump(Selector selector, long millis) throws IOException {
        selector.select(millis);
        for (SelectionKey key : selector.selectedKeys()) {
            Conn c = (Conn) key.attachment();
            try {
                if (key.isConnectable()) {
                    c.channel.finishConnect();
                    c.state = State.GREETING;
                    key.interestOps(SelectionKey.OP_READ);
                } else if (key.isReadable()) {
                    read(key, c);
                }
            } catch (IOException e) {
                key.cancel();
                if (c.state == State.IDLE) {
                    closedWhileIdle++;
                    c.state = State.CONNECTING; // counted once
                    c.channel.close();
                } else {
                    fail(c, c.state == State.CONNECTING ? "connect" : "io:" + c.state.name().toLowerCase(Locale.ROOT));
                }
            }
        }
        selector.selectedKeys().clear();
    }

    private void read(SelectionKey key, Conn c) throws IOException {
        buffer.clear();
        int n = c.channel.read(buffer);
        if (n < 0) {
            throw new IOException("closed by the server");
        }
        buffer.flip();
        c.line.append(StandardCharsets.ISO_8859_1.decode(buffer));
        int nl;
        while ((nl = c.line.indexOf("\n")) >= 0) {
            String line = c.line.substring(0, nl).trim();
            c.line.delete(0, nl + 1);
            boolean last = line.length() < 4 || line.charAt(3) != '-';
            if (!last) {
                continue;
            }
            String code = line.length() >= 3 ? line.substring(0, 3) : line;
            switch (c.state) {
                case GREETING -> {
                    if (code.equals("220")) {
                        c.channel.write(ByteBuffer.wrap("EHLO idle.invalid\r\n".getBytes(StandardCharsets.US_ASCII)));
                        c.state = State.EHLO;
                    } else {
                        key.cancel();
                        fail(c, "greeting:" + code);
                        return;
                    }
                }
                case EHLO -> {
                    if (code.equals("250")) {
                        c.state = State.IDLE;
                        established++;
                        pending--;
                    } else {
                        key.cancel();
                        fail(c, "ehlo:" + code);
                        return;
                    }
                }
                default -> {
                    // an idle session that hears from the server is being told to go (421 timeout)
                    idleReplies.merge(code, 1, Integer::sum);
                }
            }
        }
    }

    private void fail(Conn c, String why) {
        failures.merge(why, 1, Integer::sum);
        pending--;
        try {
            c.channel.close();
        } catch (IOException ignored) {
            // already failed
        }
    }

    static String describe(Map<String, Integer> counts) {
        if (counts.isEmpty()) {
            return "none";
        }
        StringBuilder b = new StringBuilder();
        counts.forEach((k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append(':').append(v));
        return b.toString();
    }
}
