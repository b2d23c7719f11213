package net.mailrelay.deploy.bench;

import java.io.BufferedOutputStream;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * bench sink: a receiving MX that accepts every message and throws it away (as Postfix's smtp-sink),
 * noting for each the {@code X-Bench-Id} marker of its headers and the time its final dot arrived
 * (epoch microseconds), so {@code bench e2e} can compute end-to-end latency per message. A message
 * without a marker is written with marker "-". Advertises PIPELINING, as smtp-sink does.
 *
 * <p>One thread per connection: a relay delivers over tens of connections, not thousands. Runs until
 * killed; the arrivals file is flushed every 100 ms and on exit.
 */
@Command(name = "sink", mixinStandardHelpOptions = true,
        description = "Receiving SMTP server (as smtp-sink) that records when each benchmark message arrived.")
public final class SinkCommand implements Callable<Integer> {

    private static final byte[] EHLO = ("250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
            + "250 SIZE 0\r\n").getBytes(StandardCharsets.US_ASCII);

    @Spec
    CommandSpec spec;
    @Option(names = "--listen", paramLabel = "HOST:PORT", required = true, description = "Address to listen on (use loopback).")
    String listen;
    @Option(names = "--arrivals", paramLabel = "FILE", required = true, description = "CSV of marker,arrival_epoch_us (appended).")
    Path arrivals;

    private final AtomicLong messages = new AtomicLong();
    private BufferedWriter writer;

    @Override
    public Integer call() throws Exception {
        writer = Files.newBufferedWriter(arrivals, StandardCharsets.US_ASCII, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        ScheduledExecutorService flusher = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "sink-flush"));
        flusher.scheduleWithFixedDelay(this::flush, 100, 100, TimeUnit.MILLISECONDS);
        Runtime.getRuntime().addShutdownHook(new Thread(this::flush, "sink-flush-on-exit"));
        ExecutorService sessions = Executors.newCachedThreadPool(r -> daemon(r, "sink-session"));
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(LoadCommand.address(listen), 1000);
            PrintWriter out = spec.commandLine().getOut();
            out.println("sink listening on " + server.getLocalSocketAddress());
            out.flush();
            while (true) {
                Socket s = server.accept();
                sessions.execute(() -> session(s));
            }
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    private void flush() {
        synchronized (this) {
            try {
                writer.flush();
            } catch (IOException e) {
                System.err.println("sink: cannot write " + arrivals + ": " + e);
            }
        }
    }

    private void arrived(String marker, long epochMicros) {
        synchronized (this) {
            try {
                writer.write(marker + "," + epochMicros + "\n");
            } catch (IOException e) {
                System.err.println("sink: cannot write " + arrivals + ": " + e);
            }
        }
        messages.incrementAndGet();
    }

    private void session(Socket socket) {
        try (socket) {
            socket.setTcpNoDelay(true);
            LineReader in = new LineReader(socket.getInputStream());
            OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 8192);
            reply(out, in, "220 bench-sink ESMTP");
            while (in.next()) {
                if (in.startsWithIgnoreCase("EHLO")) {
                    out.write(EHLO);
                    flushIfDrained(out, in);
                } else if (in.startsWithIgnoreCase("HELO")) {
                    reply(out, in, "250 bench-sink");
                } else if (in.startsWithIgnoreCase("MAIL")) {
                    reply(out, in, "250 2.1.0 Ok");
                } else if (in.startsWithIgnoreCase("RCPT")) {
                    reply(out, in, "250 2.1.5 Ok");
                } else if (in.startsWithIgnoreCase("DATA")) {
                    reply(out, in, "354 End data with <CR><LF>.<CR><LF>");
                    String marker = readMessage(in);
                    if (marker == null) {
                        return;
                    }
                    arrived(marker, LoadCommand.epochMicros());
                    reply(out, in, "250 2.0.0 Ok: queued as S" + messages.get());
                } else if (in.startsWithIgnoreCase("RSET") || in.startsWithIgnoreCase("NOOP")) {
                    reply(out, in, "250 2.0.0 Ok");
                } else if (in.startsWithIgnoreCase("QUIT")) {
                    reply(out, in, "221 2.0.0 Bye");
                    out.flush();
                    return;
                } else {
                    reply(out, in, "502 5.5.2 Error: command not recognized");
                }
            }
        } catch (IOException e) {
            // the client went away; nothing to record
        }
    }

    /** Reads the message up to its final dot; returns its marker ("-" if none), or null if the connection ended. */
    private static String readMessage(LineReader in) throws IOException {
        String marker = "-";
        boolean headers = true;
        String prefix = BenchMessage.MARKER_HEADER + ":";
        while (in.next()) {
            if (in.isDot()) {
                return marker;
            }
            if (headers) {
                if (in.length() == 0) {
                    headers = false;
                } else if (in.startsWithIgnoreCase(prefix)) {
                    marker = in.text().substring(prefix.length()).trim();
                }
            }
        }
        return null;
    }

    private static void reply(OutputStream out, LineReader in, String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        flushIfDrained(out, in);
    }

    /** With PIPELINING the client may have sent more commands: answer them all before flushing. */
    private static void flushIfDrained(OutputStream out, LineReader in) throws IOException {
        if (in.buffered() == 0) {
            out.flush();
        }
    }
}
