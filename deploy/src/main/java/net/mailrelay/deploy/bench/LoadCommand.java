package net.mailrelay.deploy.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * bench loadgen: Postfix's smtp-source with a stopwatch. N sessions (threads) send M messages of S body
 * bytes between them, each on a new connection (connect, EHLO, MAIL, RCPT, DATA, QUIT) or, with
 * {@code --reuse}, many on one (smtp-source {@code -d}). For every message it notes the time from writing
 * the final "." to reading the reply (the acceptance latency, which on this relay contains the Kafka
 * acknowledgement and on Postfix the fsync of the queue file) and the queue id in the 250. With
 * {@code --rate} it paces the messages to a fixed rate (for the soak) instead of sending flat out.
 *
 * <p>Prints key=value lines (deploy/bench/run reads them); {@code --csv} keeps every message for
 * {@code bench e2e}. Exit code 0 even when messages were refused: the errors are part of the result.
 */
@Command(name = "loadgen", mixinStandardHelpOptions = true,
        description = "SMTP load generator (as smtp-source) that measures acceptance latency per message.")
public final class LoadCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--server", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:25", description = "SMTP server (default ${DEFAULT-VALUE}).")
    String server;
    @Option(names = {"-s", "--sessions"}, defaultValue = "1", description = "Parallel sessions (default ${DEFAULT-VALUE}).")
    int sessions;
    @Option(names = {"-m", "--messages"}, defaultValue = "1", description = "Messages in total (default ${DEFAULT-VALUE}).")
    int messages;
    @Option(names = {"-l", "--size"}, defaultValue = "5KiB", paramLabel = "SIZE",
            description = "Body size, bytes or with k/KiB, m/MiB (default ${DEFAULT-VALUE}); headers not counted, as smtp-source -l.")
    String size;
    @Option(names = {"-d", "--reuse"}, description = "Send the next message over the same connection (smtp-source -d).")
    boolean reuse;
    @Option(names = {"-f", "--from"}, defaultValue = "bench@client.invalid", description = "Envelope sender.")
    String from;
    @Option(names = {"-t", "--to"}, defaultValue = "bench@sink.invalid", description = "Envelope recipient.")
    String to;
    @Option(names = "--helo", defaultValue = "loadgen.invalid", description = "Name in EHLO.")
    String helo;
    @Option(names = "--rate", defaultValue = "0", description = "Messages per second in total, paced; 0 = as fast as the sessions go.")
    double rate;
    @Option(names = "--duration", defaultValue = "0", paramLabel = "SECONDS",
            description = "With --rate: send rate x SECONDS messages (overrides --messages).")
    int duration;
    @Option(names = "--run-id", description = "Prefix of each message's marker (default: from the clock).")
    String runId;
    @Option(names = "--csv", paramLabel = "FILE", description = "Write one row per message (for bench e2e).")
    Path csv;
    @Option(names = "--steps", description = "Also time each step of a session (connect, greeting, EHLO, MAIL, RCPT, DATA, "
            + "the message and its reply, QUIT) and print their p50 and p99.")
    boolean steps;
    /** Per step, every time it took, in microseconds (with --steps). */
    private final Map<String, java.util.concurrent.ConcurrentLinkedQueue<Long>> stepTimes = new java.util.concurrent.ConcurrentHashMap<>();
    @Option(names = "--timeout", defaultValue = "120", paramLabel = "SECONDS", description = "Socket timeout (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        int total = rate > 0 && duration > 0 ? (int) Math.round(rate * duration) : messages;
        if (sessions < 1 || total < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--sessions and --messages must be at least 1");
        }
        String id = runId != null ? runId : Long.toString(System.currentTimeMillis(), 36);
        InetSocketAddress address = address(server);
        BenchMessage message = new BenchMessage(from, to, parseSize(size));
        AtomicReferenceArray<SendLog.Sent> rows = new AtomicReferenceArray<>(total);
        AtomicInteger next = new AtomicInteger();
        long startEpoch = epochMicros();
        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < Math.min(sessions, total); i++) {
            Session session = new Session(address, message, id, total, next, rows, start);
            Thread t = new Thread(session, "loadgen-" + i);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        List<SendLog.Sent> all = new ArrayList<>(total);
        for (int i = 0; i < total; i++) {
            all.add(rows.get(i));
        }
        if (csv != null) {
            SendLog.write(csv, startEpoch, all);
        }
        report(out, all, total, elapsed, startEpoch);
        for (String step : STEPS) {
            var times = stepTimes.get(step);
            if (times != null) {
                Latencies l = Latencies.of(times.stream().mapToLong(Long::longValue).toArray());
                out.println("step_" + step + "_p50_ms=" + Latencies.millis(l.percentile(50)));
                out.println("step_" + step + "_p99_ms=" + Latencies.millis(l.percentile(99)));
                out.println("step_" + step + "_mean_ms=" + Latencies.millis(l.meanMicros()));
            }
        }
        out.flush();
        return 0;
    }

    /** The steps --steps times, in session order; "message" is writing the headers and body, "dot" the final "." to its reply. */
    static final List<String> STEPS = List.of("connect", "greeting", "ehlo", "mail", "rcpt", "data", "message", "dot", "quit");

    /** Notes how long a step took since {@code since} (nanoTime); returns now. */
    private long step(String name, long since) {
        long now = System.nanoTime();
        if (steps) {
            stepTimes.computeIfAbsent(name, k -> new java.util.concurrent.ConcurrentLinkedQueue<>()).add((now - since) / 1000);
        }
        return now;
    }

    static void report(PrintWriter out, List<SendLog.Sent> all, int total, double elapsed, long startEpoch) {
        long[] accepted = all.stream().filter(s -> s != null && s.accepted()).mapToLong(SendLog.Sent::acceptMicros).toArray();
        Latencies l = Latencies.of(accepted);
        out.println("messages=" + total);
        out.println("accepted=" + l.count());
        out.println("elapsed_s=" + String.format(Locale.ROOT, "%.3f", elapsed));
        out.println("accepted_per_s=" + String.format(Locale.ROOT, "%.1f", l.count() / elapsed));
        out.println("accept_p50_ms=" + Latencies.millis(l.percentile(50)));
        out.println("accept_p99_ms=" + Latencies.millis(l.percentile(99)));
        out.println("accept_max_ms=" + Latencies.millis(l.max()));
        out.println("accept_mean_ms=" + Latencies.millis(l.meanMicros()));
        out.println("errors=" + errors(all));
        out.println("start_epoch_us=" + startEpoch);
        out.flush();
    }

    /** Failed messages by reply, e.g. {@code 451:3,io:1}, or {@code none}. */
    static String errors(List<SendLog.Sent> all) {
        Map<String, Integer> byReply = new TreeMap<>();
        for (SendLog.Sent s : all) {
            if (s != null && !s.accepted()) {
                byReply.merge(s.reply(), 1, Integer::sum);
            }
        }
        if (byReply.isEmpty()) {
            return "none";
        }
        StringBuilder b = new StringBuilder();
        byReply.forEach((k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append(':').append(v));
        return b.toString();
    }

    /** One session: takes the next message number until none are left. */
    private final class Session implements Runnable {
        private final InetSocketAddress address;
        private final BenchMessage message;
        private final String id;
        private final int total;
        private final AtomicInteger next;
        private final AtomicReferenceArray<SendLog.Sent> rows;
        private final long start;
        private SmtpLines conn;

        Session(InetSocketAddress address, BenchMessage message, String id, int total, AtomicInteger next,
                AtomicReferenceArray<SendLog.Sent> rows, long start) {
            this.address = address;
            this.message = message;
            this.id = id;
            this.total = total;
            this.next = next;
            this.rows = rows;
            this.start = start;
        }

        @Override
        public void run() {
            int seq;
            while ((seq = next.getAndIncrement()) < total) {
                if (rate > 0) {
                    long due = start + (long) (seq * 1e9 / rate);
                    long wait;
                    while ((wait = due - System.nanoTime()) > 0) {
                        LockSupport.parkNanos(wait);
                    }
                }
                String marker = id + "." + seq;
                rows.set(seq, send(seq, marker));
            }
            if (conn != null) {
                quit();
            }
        }

        private SendLog.Sent send(int seq, String marker) {
            String stage = "connect";
            try {
                long t = System.nanoTime();
                if (conn == null) {
                    conn = new SmtpLines(address, timeoutSeconds * 1000);
                    t = step("connect", t);
                    stage = "greeting";
                    SmtpLines.Reply greeting = conn.reply();
                    t = step("greeting", t);
                    if (greeting.code() != 220) {
                        return failed(seq, marker, stage + ":" + greeting.code(), true);
                    }
                    stage = "ehlo";
                    SmtpLines.Reply ehlo = conn.command("EHLO " + helo);
                    t = step("ehlo", t);
                    if (!ehlo.positive()) {
                        return failed(seq, marker, stage + ":" + ehlo.code(), true);
                    }
                }
                stage = "mail";
                SmtpLines.Reply r = conn.command("MAIL FROM:<" + from + ">");
                t = step("mail", t);
                if (!r.positive()) {
                    return failed(seq, marker, stage + ":" + r.code(), r.code() == 421);
                }
                stage = "rcpt";
                r = conn.command("RCPT TO:<" + to + ">");
                t = step("rcpt", t);
                if (!r.positive()) {
                    return failed(seq, marker, stage + ":" + r.code(), r.code() == 421);
                }
                stage = "data";
                r = conn.command("DATA");
                t = step("data", t);
                if (r.code() != 354) {
                    return failed(seq, marker, stage + ":" + r.code(), r.code() == 421);
                }
                stage = "dot";
                conn.write(message.headers(marker));
                conn.write(message.body());
                conn.flush();
                t = step("message", t);
                long dotEpoch = epochMicros();
                long t0 = System.nanoTime();
                conn.send(".");
                SmtpLines.Reply done = conn.reply();
                long micros = (System.nanoTime() - t0) / 1000;
                t = step("dot", t);
                if (!reuse || done.code() == 421) {
                    quit();
                    step("quit", t);
                }
                String reply = Integer.toString(done.code());
                return new SendLog.Sent(seq, marker, done.code() == 250 ? queueId(done.lastLine()) : "-", dotEpoch, micros,
                        done.code() == 250 ? reply : "dot:" + reply);
            } catch (IOException e) {
                if (conn != null) {
                    conn.close();
                    conn = null;
                }
                return new SendLog.Sent(seq, marker, "-", epochMicros(), -1, stage.equals("connect") ? "connect" : "io:" + stage);
            }
        }

        private SendLog.Sent failed(int seq, String marker, String reply, boolean close) throws IOException {
            if (close || !reuse) {
                quit();
            } else {
                conn.command("RSET");
            }
            return new SendLog.Sent(seq, marker, "-", epochMicros(), -1, reply);
        }

        private void quit() {
            try {
                conn.command("QUIT");
            } catch (IOException ignored) {
                // the server may already have hung up (after 421)
            } finally {
                conn.close();
                conn = null;
            }
        }
    }

    /** The queue id of "250 2.0.0 Ok: queued as ID" (this relay and Postfix), else the reply's last word. */
    static String queueId(String line) {
        String[] words = line.trim().split("\\s+");
        String last = words[words.length - 1];
        return last.replace(",", "").isEmpty() ? "-" : last.replace(",", "");
    }

    static long epochMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected HOST:PORT, not '" + hostPort + "'");
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /** "5120", "5k", "5KiB", "1m", "1MiB" to bytes. */
    static int parseSize(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        for (String[] u : Arrays.asList(new String[] {"kib", "1024"}, new String[] {"k", "1024"}, new String[] {"mib", "1048576"},
                new String[] {"m", "1048576"})) {
            if (t.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length()).trim();
                break;
            }
        }
        long v = Long.parseLong(t) * unit;
        if (v < 2 || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("size out of range: " + s);
        }
        return (int) v;
    }
}
