package net.mailrelay.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A remote MX for tests: a real SMTP server on a port of 127.0.0.1 that records every message it
 * accepts. Recipients decide their own fate, as KumoMTA's magic recipients do:
 * <ul>
 *   <li>{@code permfail...@} gets {@code 550 5.1.1} at RCPT;</li>
 *   <li>{@code tempfail...@} gets {@code 451 4.3.0} at RCPT, every time;</li>
 *   <li>{@code flaky...@} gets {@code 451 4.3.0} the first time it is offered, {@code 250} afterwards;</li>
 *   <li>anything else is accepted, unless {@link #replyToRecipient} scripted it otherwise.</li>
 * </ul>
 */
public final class FakeMx extends TestServer {

    /** One accepted message: the envelope as the MX saw it and the data with dot-stuffing undone. */
    public record Delivery(String heloName, String mailFrom, List<String> recipients, byte[] data) {
        public String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    private final String name;
    private final InetAddress bindAddress;
    private final int bindPort;
    private final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    private final Map<String, Deque<String>> scripted = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> offers = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger maxOpen = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private ServerSocket server;
    private ExecutorService threads;

    public FakeMx() {
        this("mx.fake.test");
    }

    public FakeMx(String name) {
        this(name, InetAddress.getLoopbackAddress(), 0);
    }

    /** A server on a chosen loopback address and port, e.g. 127.0.0.3, to stand for one MX host of several. */
    public FakeMx(String name, InetAddress bindAddress, int bindPort) {
        this.name = name;
        this.bindAddress = bindAddress;
        this.bindPort = bindPort;
    }

    /** Replies to give at RCPT for this address, in order; the last one repeats. */
    public FakeMx replyToRecipient(String address, String... replies) {
        scripted.put(address.toLowerCase(Locale.ROOT), new ArrayDeque<>(List.of(replies)));
        return this;
    }

    public int port() {
        return server.getLocalPort();
    }

    public String hostPort() {
        return server.getInetAddress().getHostAddress() + ":" + port();
    }

    public List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    public List<Delivery> deliveriesTo(String recipient) {
        return deliveries.stream().filter(d -> d.recipients().contains(recipient)).toList();
    }

    /** How many times RCPT TO was given for this address, in any connection. */
    public int timesOffered(String recipient) {
        AtomicInteger n = offers.get(recipient.toLowerCase(Locale.ROOT));
        return n == null ? 0 : n.get();
    }

    public int connectionCount() {
        return connections.get();
    }

    public int maxConcurrentConnections() {
        return maxOpen.get();
    }

    @Override
    protected void startServer() throws IOException {
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(bindAddress, bindPort));
        threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-mx-" + name);
            t.setDaemon(true);
            return t;
        });
        threads.execute(this::acceptLoop);
    }

    @Override
    protected void stopServer() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.forEach(s -> {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        });
        threads.shutdownNow();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                connections.incrementAndGet();
                maxOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
                sockets.add(s);
                threads.execute(() -> {
                    try (s) {
                        converse(new BufferedInputStream(s.getInputStream()), s.getOutputStream());
                    } catch (IOException e) {
                        // the client went away
                    } finally {
                        open.decrementAndGet();
                        sockets.remove(s);
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    private void converse(InputStream in, OutputStream out) throws IOException {
        reply(out, "220 " + name + " ESMTP fake");
        String helo = null;
        String from = null;
        List<String> rcpts = new ArrayList<>();
        while (true) {
            byte[] raw = readLine(in);
            if (raw == null) {
                return;
            }
            String line = new String(raw, StandardCharsets.UTF_8).stripTrailing();
            String verb = (line.length() >= 4 ? line.substring(0, 4) : line).toUpperCase(Locale.ROOT);
            switch (verb) {
                case "EHLO" -> {
                    helo = line.substring(4).trim();
                    reply(out, "250-" + name + "\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES");
                }
                case "HELO" -> {
                    helo = line.substring(4).trim();
                    reply(out, "250 " + name);
                }
                case "MAIL" -> {
                    from = between(line, '<', '>');
                    rcpts.clear();
                    reply(out, "250 2.1.0 Ok");
                }
                case "RCPT" -> {
                    String rcpt = between(line, '<', '>');
                    String answer = recipientReply(rcpt);
                    if (answer.startsWith("2")) {
                        rcpts.add(rcpt);
                    }
                    reply(out, answer);
                }
                case "DATA" -> {
                    if (rcpts.isEmpty()) {
                        reply(out, "554 5.5.1 Error: no valid recipients");
                        continue;
                    }
                    reply(out, "354 End data with <CR><LF>.<CR><LF>");
                    byte[] data = readData(in);
                    if (data == null) {
                        return;
                    }
                    deliveries.add(new Delivery(helo, from, List.copyOf(rcpts), data));
                    rcpts.clear();
                    reply(out, "250 2.0.0 Ok: queued");
                }
                case "RSET" -> {
                    rcpts.clear();
                    from = null;
                    reply(out, "250 2.0.0 Ok");
                }
                case "NOOP" -> reply(out, "250 2.0.0 Ok");
                case "QUIT" -> {
                    reply(out, "221 2.0.0 Bye");
                    return;
                }
                default -> reply(out, "502 5.5.2 Error: command not recognized");
            }
        }
    }

    private String recipientReply(String rcpt) {
        String key = rcpt.toLowerCase(Locale.ROOT);
        int offered = offers.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        Deque<String> script = scripted.get(key);
        if (script != null) {
            synchronized (script) {
                return script.size() > 1 ? script.poll() : script.peek();
            }
        }
        if (key.startsWith("permfail")) {
            return "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown";
        }
        if (key.startsWith("tempfail") || (key.startsWith("flaky") && offered == 1)) {
            return "451 4.3.0 <" + rcpt + ">: Temporary lookup failure";
        }
        return "250 2.1.5 Ok";
    }

    private static String between(String line, char open, char close) {
        int a = line.indexOf(open);
        int b = line.indexOf(close, a + 1);
        return a < 0 || b < 0 ? "" : line.substring(a + 1, b);
    }

    private static void reply(OutputStream out, String text) throws IOException {
        out.write((text + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Reads up to and including LF; null at end of stream. */
    private static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        int c;
        while ((c = in.read()) != -1) {
            line.write(c);
            if (c == '\n') {
                return line.toByteArray();
            }
        }
        return line.size() == 0 ? null : line.toByteArray();
    }

    /** Reads DATA up to the CRLF.CRLF terminator, undoing dot-stuffing (RFC 5321 section 4.5.2). */
    private static byte[] readData(InputStream in) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream(8192);
        while (true) {
            byte[] line = readLine(in);
            if (line == null) {
                return null;
            }
            if (line.length == 3 && line[0] == '.' && line[1] == '\r' && line[2] == '\n') {
                return data.toByteArray();
            }
            int skip = line.length > 0 && line[0] == '.' ? 1 : 0;
            data.write(line, skip, line.length - skip);
        }
    }
}
