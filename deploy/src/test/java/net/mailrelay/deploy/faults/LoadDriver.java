package net.mailrelay.deploy.faults;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sends a fixed number of messages through the edges, as a well-behaved client MTA does: each message
 * on its own connection, to the edges in turn; a 4xx, a connection that breaks or an edge that does
 * not answer means "try again shortly, on the other edge", a 5xx means "give up". Every {@code 250}
 * goes into the ledger under the queue id the edge gave, with the recipients it was for.
 *
 * <p>Message {@code i} of a scenario is from {@code s-SCENARIO-i@senders.test} to
 * {@code u-SCENARIO-i@sink.test}; every tenth also to {@code permfail-SCENARIO-i@sink.test}, which the
 * MX refuses with 550 and so must come back as a DSN. Its Message-ID is {@code <SCENARIO-i@driver.test>}.
 */
final class LoadDriver {

    private static final Pattern QUEUED = Pattern.compile("queued as (\\S+)");

    /** A message the edge took responsibility for: it answered 250 to its DATA. */
    record Accepted(String token, List<String> recipients) {
    }

    /** How the edges answered: counts by kind, and a few examples of each. */
    static final class Replies {
        final Map<String, AtomicLong> counts = new ConcurrentSkipListMap<>();
        final Map<String, List<String>> examples = new ConcurrentHashMap<>();

        void count(String kind, String example) {
            counts.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
            List<String> e = examples.computeIfAbsent(kind, k -> new CopyOnWriteArrayList<>());
            if (e.size() < 3 && example != null) {
                e.add(example);
            }
        }

        long get(String kind) {
            AtomicLong n = counts.get(kind);
            return n == null ? 0 : n.get();
        }
    }

    /** The kinds of answer counted. */
    static final String ACCEPTED = "250 accepted";
    static final String TEMPORARY = "4xx (tried again)";
    static final String PERMANENT = "5xx";
    static final String NO_REPLY = "connection lost before the reply (tried again)";
    static final String REFUSED = "connection refused (tried again)";
    static final String HUNG = "no reply within the read timeout";

    private final String scenario;
    private final List<Integer> edgePorts;
    private final int messages;
    private final int sessions;
    private final double rate;
    private final Duration readTimeout;
    private final Map<String, Accepted> ledger = new ConcurrentHashMap<>();
    private final Replies replies = new Replies();
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    private final AtomicLong slowestDataReplyNanos = new AtomicLong();
    private final List<Thread> threads = new ArrayList<>();
    private volatile long startNanos;
    private volatile boolean stopped;

    /**
     * @param rate messages per second offered, spread evenly (0: as fast as the sessions go)
     */
    LoadDriver(String scenario, List<Integer> edgePorts, int messages, int sessions, double rate, Duration readTimeout) {
        this.scenario = scenario;
        this.edgePorts = edgePorts;
        this.messages = messages;
        this.sessions = sessions;
        this.rate = rate;
        this.readTimeout = readTimeout;
    }

    LoadDriver start() {
        startNanos = System.nanoTime();
        for (int s = 0; s < sessions; s++) {
            Thread t = new Thread(this::session, "load-" + scenario + "-" + s);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        return this;
    }

    /** Waits until every message was accepted or given up on. */
    void awaitDone(Duration atMost) throws InterruptedException {
        long end = System.nanoTime() + atMost.toNanos();
        for (Thread t : threads) {
            t.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
        }
        stopped = true;
        for (Thread t : threads) {
            t.join(readTimeout.toMillis() + 10_000);
        }
    }

    int finished() {
        return finished.get();
    }

    Map<String, Accepted> ledger() {
        return ledger;
    }

    Replies replies() {
        return replies;
    }

    Duration slowestDataReply() {
        return Duration.ofNanos(slowestDataReplyNanos.get());
    }

    static String token(String scenario, int i) {
        return scenario + "-" + i;
    }

    private void session() {
        int i;
        while (!stopped && (i = next.getAndIncrement()) < messages) {
            if (rate > 0) {
                long due = startNanos + (long) (i * 1e9 / rate);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    sleep(Duration.ofNanos(wait));
                }
            }
            send(i);
            finished.incrementAndGet();
        }
    }

    private void send(int i) {
        String token = token(scenario, i);
        String from = "s-" + token + "@senders.test";
        List<String> to = new ArrayList<>(List.of("u-" + token + "@sink.test"));
        if (i % 10 == 0) {
            to.add("permfail-" + token + "@sink.test");
        }
        byte[] message = message(token, from, to);
        for (int attempt = 0; !stopped; attempt++) {
            int port = edgePorts.get((i + attempt) % edgePorts.size());
            String outcome = attempt(port, from, to, message, token);
            if (outcome.equals(ACCEPTED) || outcome.equals(PERMANENT)) {
                return;
            }
            if (!outcome.equals(REFUSED) || attempt % edgePorts.size() == edgePorts.size() - 1) {
                sleep(Duration.ofMillis(500)); // every edge refused, or one answered "later"
            }
        }
    }

    /** One SMTP transaction on a new connection; returns the kind of outcome, counted. */
    private String attempt(int port, String from, List<String> to, byte[] message, String token) {
        String step = "connect";
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout((int) readTimeout.toMillis());
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = socket.getOutputStream();
            step = "greeting";
            String reply = reply(in);
            if (!reply.startsWith("220")) {
                return refusal(reply, step);
            }
            List<String> commands = new ArrayList<>();
            commands.add("EHLO driver.test");
            commands.add("MAIL FROM:<" + from + ">");
            to.forEach(r -> commands.add("RCPT TO:<" + r + ">"));
            commands.add("DATA");
            for (String command : commands) {
                step = command.substring(0, 4);
                out.write((command + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                reply = reply(in);
                String want = command.equals("DATA") ? "354" : "250";
                if (!reply.startsWith(want)) {
                    return refusal(reply, step);
                }
            }
            step = "end of DATA";
            long sent = System.nanoTime();
            out.write(message);
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            reply = reply(in);
            slowestDataReplyNanos.accumulateAndGet(System.nanoTime() - sent, Math::max);
            if (!reply.startsWith("250")) {
                return refusal(reply, step);
            }
            Matcher m = QUEUED.matcher(reply);
            if (!m.find()) {
                throw new IllegalStateException("250 without a queue id: " + reply);
            }
            ledger.put(m.group(1), new Accepted(token, List.copyOf(to)));
            replies.count(ACCEPTED, null);
            try {
                out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException ignored) {
                // The message is accepted; the goodbye does not matter.
            }
            return ACCEPTED;
        } catch (ConnectException e) {
            replies.count(REFUSED, "port " + port + ": " + e.getMessage());
            return REFUSED;
        } catch (SocketTimeoutException e) {
            replies.count(HUNG, "port " + port + " at " + step);
            return HUNG;
        } catch (IOException e) {
            replies.count(NO_REPLY, "port " + port + " at " + step + ": " + e);
            return NO_REPLY;
        }
    }

    private String refusal(String reply, String step) {
        String kind = reply.startsWith("4") ? TEMPORARY : PERMANENT;
        replies.count(kind, step + ": " + reply);
        return kind;
    }

    /** The last line of one reply; an end of stream is an IOException. */
    private static String reply(BufferedReader in) throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed by the edge");
            }
            if (line.length() < 4 || line.charAt(3) != '-') {
                return line;
            }
        }
    }

    private static byte[] message(String token, String from, List<String> to) {
        StringBuilder m = new StringBuilder(1200);
        m.append("From: <").append(from).append(">\r\n");
        m.append("To: ").append(String.join(", ", to.stream().map(r -> "<" + r + ">").toList())).append("\r\n");
        m.append("Subject: fault suite ").append(token).append("\r\n");
        m.append("Message-ID: <").append(token).append("@driver.test>\r\n");
        m.append("Date: Sun, 29 Nov 2026 00:00:00 +0000\r\n\r\n");
        for (int l = 0; l < 12; l++) {
            m.append("Line ").append(l).append(" of message ").append(token).append(": the quick brown fox jumps over the lazy dog.\r\n");
        }
        return m.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(Math.max(1, d.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
