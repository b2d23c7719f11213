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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
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
 * to a final dot goes into the ledger under the queue id the edge gave, with the recipients it was for.
 *
 * <p>In the {@link Style#PIPELINED} style a connection carries several messages, as a client that uses
 * PIPELINING does ({@link PipeliningConnection}). What is sent: {@link Message}.
 */
final class LoadDriver {

    private static final Pattern QUEUED = Pattern.compile("queued as (\\S+)");

    /** A message the edge took responsibility for: it answered 250 to its DATA. */
    record Accepted(String token, List<String> recipients) {
    }

    /** How the client sends. */
    enum Style {
        /** One transaction per connection, each command after the reply to the one before. */
        ONE_PER_CONNECTION,
        /** Several transactions per connection, commands pipelined (RFC 2920), the next one behind each final dot. */
        PIPELINED
    }

    /** Messages a pipelining client sends on one connection before it says QUIT. */
    static final int MESSAGES_PER_CONNECTION = 5;

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
    private final List<InetSocketAddress> edges;
    private final int messages;
    private final int sessions;
    private final double rate;
    private final Duration readTimeout;
    /**
     * How long a client waits for the reply to its final dot: RFC 5321 section 4.5.3.2.6's 10 minutes,
     * Postfix's smtp_data_done_timeout. An edge whose commit to Kafka is in doubt (a broker froze as it
     * was asked) answers once the broker does, rather than guess; every other reply gets readTimeout.
     */
    static final Duration DATA_DONE_TIMEOUT = Duration.ofMinutes(10);
    private final Style style;
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
    LoadDriver(String scenario, List<InetSocketAddress> edges, int messages, int sessions, double rate, Duration readTimeout,
            Style style) {
        this.scenario = scenario;
        this.edges = edges;
        this.messages = messages;
        this.sessions = sessions;
        this.rate = rate;
        this.readTimeout = readTimeout;
        this.style = style;
    }

    LoadDriver start() {
        startNanos = System.nanoTime();
        for (int s = 0; s < sessions; s++) {
            Thread t = new Thread(style == Style.PIPELINED ? this::pipeliningSession : this::session, "load-" + scenario + "-" + s);
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
            t.join(DATA_DONE_TIMEOUT.toMillis() + 10_000);
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

    private void session() {
        Message m;
        while ((m = nextMessage()) != null) {
            send(m);
        }
    }

    /**
     * The next message of the scenario once it is due at the offered rate, or null when every message
     * has been taken (or the driver stopped).
     */
    Message nextMessage() {
        int i;
        if (stopped || (i = next.getAndIncrement()) >= messages) {
            return null;
        }
        if (rate > 0) {
            long due = startNanos + (long) (i * 1e9 / rate);
            long wait = due - System.nanoTime();
            if (wait > 0) {
                sleep(Duration.ofNanos(wait));
            }
        }
        return Message.of(scenario, i);
    }

    private void send(Message m) {
        for (int attempt = 0; !stopped; attempt++) {
            InetSocketAddress edge = edges.get((m.index() + attempt) % edges.size());
            String outcome = attempt(edge, m);
            if (outcome.equals(ACCEPTED)) {
                return;
            }
            if (outcome.equals(PERMANENT)) {
                finished.incrementAndGet();
                return;
            }
            pauseAfter(outcome, attempt);
        }
    }

    private void pauseAfter(String outcome, int attempt) {
        if (!outcome.equals(REFUSED) || attempt % edges.size() == edges.size() - 1) {
            sleep(Duration.ofMillis(500)); // every edge refused, or one answered "later"
        }
    }

    /**
     * A pipelining client: connections of up to {@link #MESSAGES_PER_CONNECTION} messages. Messages a
     * connection did not get accepted are sent again on the next one (to the other edge), as in
     * {@link #send}; a 5xx gives up the message it answered.
     */
    private void pipeliningSession() {
        Deque<Message> again = new ArrayDeque<>();
        int attempt = 0;
        while (!stopped) {
            Message first = again.isEmpty() ? nextMessage() : again.poll();
            if (first == null) {
                return;
            }
            InetSocketAddress edge = edges.get((first.index() + attempt) % edges.size());
            PipeliningConnection.Ended ended = new PipeliningConnection(this, edge, readTimeout).run(first, MESSAGES_PER_CONNECTION);
            if (ended.unfinished().isEmpty()) {
                attempt = 0;
                continue;
            }
            List<Message> left = new ArrayList<>(ended.unfinished());
            if (ended.outcome().equals(PERMANENT)) {
                left.remove(0);
                finished.incrementAndGet();
            }
            for (int k = left.size() - 1; k >= 0; k--) {
                again.push(left.get(k));
            }
            pauseAfter(ended.outcome(), attempt++);
        }
    }

    /** Records a 250 to a message's final dot in the ledger, under the queue id it names; the message is finished. */
    void accepted(Message m, String reply) {
        Matcher q = QUEUED.matcher(reply);
        if (!q.find()) {
            throw new IllegalStateException("250 without a queue id: " + reply);
        }
        ledger.put(q.group(1), new Accepted(m.token(), List.copyOf(m.to())));
        replies.count(ACCEPTED, null);
        finished.incrementAndGet();
    }

    void count(String kind, String example) {
        replies.count(kind, example);
    }

    void dataReplyTook(long nanos) {
        slowestDataReplyNanos.accumulateAndGet(nanos, Math::max);
    }

    /** One SMTP transaction on a new connection; returns the kind of outcome, counted. */
    private String attempt(InetSocketAddress edge, Message message) {
        String step = "connect";
        try (Socket socket = new Socket()) {
            socket.connect(edge, 5_000);
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
            commands.add("MAIL FROM:<" + message.from() + ">");
            message.to().forEach(r -> commands.add("RCPT TO:<" + r + ">"));
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
            out.write(message.content());
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.setSoTimeout((int) DATA_DONE_TIMEOUT.toMillis());
            reply = reply(in);
            dataReplyTook(System.nanoTime() - sent);
            if (!reply.startsWith("250")) {
                return refusal(reply, step);
            }
            accepted(message, reply);
            try {
                out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException ignored) {
                // The message is accepted; the goodbye does not matter.
            }
            return ACCEPTED;
        } catch (ConnectException e) {
            replies.count(REFUSED, "edge " + edge + ": " + e.getMessage());
            return REFUSED;
        } catch (SocketTimeoutException e) {
            replies.count(HUNG, "edge " + edge + " at " + step);
            return HUNG;
        } catch (IOException e) {
            replies.count(NO_REPLY, "edge " + edge + " at " + step + ": " + e);
            return NO_REPLY;
        }
    }

    String refusal(String reply, String step) {
        String kind = reply.startsWith("4") ? TEMPORARY : PERMANENT;
        replies.count(kind, step + ": " + reply);
        return kind;
    }

    /** The last line of one reply; an end of stream is an IOException. */
    static String reply(BufferedReader in) throws IOException {
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

    private static void sleep(Duration d) {
        try {
            Thread.sleep(Math.max(1, d.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
