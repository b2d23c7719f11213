package net.mailrelay.deploy.faults;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
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

/**
 * One connection of a client that pipelines (RFC 2920), as Postfix's smtp client and most bulk senders
 * do: after EHLO, MAIL, every RCPT and DATA go out in one write; after the 354, the message, its final
 * dot and the next transaction's commands go out in one write too, so the edge finds commands already
 * buffered behind the dot when its 250 is due. What follows a dot takes turns:
 * <ul>
 *   <li>the next MAIL, RCPTs and DATA at once;</li>
 *   <li>{@code RSET}, then those;</li>
 *   <li>{@code NOOP} alone, then those after its reply (RFC 2920 section 3.1 lets NOOP end a group only);</li>
 *   <li>{@code QUIT} after the last message.</li>
 * </ul>
 * Every reply must come, in order. One that does not come within the read timeout is counted as
 * {@link LoadDriver#HUNG}, with the command it was for.
 */
final class PipeliningConnection {

    /** The connection is over: messages it took and did not get a 250 for, in order, and why it ended. */
    record Ended(List<Message> unfinished, String outcome) {
    }

    private final LoadDriver driver;
    private final InetSocketAddress edge;
    private final Duration readTimeout;
    private final List<Message> open = new ArrayList<>();
    private String step = "connect";

    PipeliningConnection(LoadDriver driver, InetSocketAddress edge, Duration readTimeout) {
        this.driver = driver;
        this.edge = edge;
        this.readTimeout = readTimeout;
    }

    /** Sends {@code first} and then further messages from the driver, up to {@code max} on this connection. */
    Ended run(Message first, int max) {
        open.add(first);
        try (Socket socket = new Socket()) {
            socket.connect(edge, 5_000);
            socket.setSoTimeout((int) readTimeout.toMillis());
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = socket.getOutputStream();
            step = "greeting";
            String reply = LoadDriver.reply(in);
            if (!reply.startsWith("220")) {
                return refused(reply);
            }
            step = "EHLO";
            write(out, "EHLO driver.test\r\n".getBytes(StandardCharsets.US_ASCII));
            List<String> ehlo = lines(in);
            if (!ehlo.get(ehlo.size() - 1).startsWith("250")) {
                return refused(ehlo.get(ehlo.size() - 1));
            }
            if (ehlo.stream().noneMatch(l -> l.substring(Math.min(4, l.length())).trim().equalsIgnoreCase("PIPELINING"))) {
                driver.count(LoadDriver.PERMANENT, "edge " + edge + ": EHLO without PIPELINING: " + ehlo);
                return new Ended(List.copyOf(open), LoadDriver.PERMANENT);
            }
            Message current = first;
            write(out, transaction(current));
            String where = "";
            for (int sent = 1; ; sent++) {
                String refusal = transactionReplies(in, current, where);
                if (refusal != null) {
                    return new Ended(List.copyOf(open), refusal);
                }
                Message next = sent < max ? driver.nextMessage() : null;
                String behind = next == null ? "QUIT" : List.of("NOOP", "MAIL", "RSET").get(sent % 3);
                ByteArrayOutputStream write = new ByteArrayOutputStream();
                write.writeBytes(current.content());
                write.writeBytes(".\r\n".getBytes(StandardCharsets.US_ASCII));
                if (next != null) {
                    open.add(next);
                }
                switch (behind) {
                    case "QUIT", "NOOP" -> write.writeBytes((behind + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    case "RSET" -> {
                        write.writeBytes("RSET\r\n".getBytes(StandardCharsets.US_ASCII));
                        write.writeBytes(transaction(next));
                    }
                    default -> write.writeBytes(transaction(next));
                }
                step = "final dot of " + current.token() + " (" + behind + " behind it)";
                long at = System.nanoTime();
                write(out, write.toByteArray());
                socket.setSoTimeout((int) LoadDriver.DATA_DONE_TIMEOUT.toMillis());
                reply = LoadDriver.reply(in);
                socket.setSoTimeout((int) readTimeout.toMillis());
                driver.dataReplyTook(System.nanoTime() - at);
                if (!reply.startsWith("250")) {
                    return refused(reply);
                }
                driver.accepted(current, reply);
                open.remove(current);
                if (next == null) {
                    step = "QUIT behind the final dot of " + current.token();
                    expect(in, "221");
                    return new Ended(List.of(), LoadDriver.ACCEPTED);
                }
                step = behind + " behind the final dot of " + current.token();
                if (!behind.equals("MAIL")) {
                    reply = LoadDriver.reply(in);
                    if (!reply.startsWith("250")) {
                        return refused(reply);
                    }
                }
                if (behind.equals("NOOP")) {
                    write(out, transaction(next));
                }
                where = behind.equals("NOOP") ? " (after a NOOP behind a final dot)" : " (behind the final dot of " + current.token() + ")";
                current = next;
            }
        } catch (ConnectException e) {
            driver.count(LoadDriver.REFUSED, "edge " + edge + ": " + e.getMessage());
            return new Ended(List.copyOf(open), LoadDriver.REFUSED);
        } catch (SocketTimeoutException e) {
            driver.count(LoadDriver.HUNG, "edge " + edge + " at " + step);
            return new Ended(List.copyOf(open), LoadDriver.HUNG);
        } catch (IOException e) {
            driver.count(LoadDriver.NO_REPLY, "edge " + edge + " at " + step + ": " + e);
            return new Ended(List.copyOf(open), LoadDriver.NO_REPLY);
        }
    }

    /** MAIL, every RCPT and DATA, to be written at once. */
    private static byte[] transaction(Message m) {
        StringBuilder b = new StringBuilder("MAIL FROM:<").append(m.from()).append(">\r\n");
        m.to().forEach(r -> b.append("RCPT TO:<").append(r).append(">\r\n"));
        return b.append("DATA\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** The replies to one transaction's MAIL, RCPTs and DATA, in order; null when they are 250s and a 354. */
    private String transactionReplies(BufferedReader in, Message m, String where) throws IOException {
        List<String> commands = new ArrayList<>();
        commands.add("MAIL");
        m.to().forEach(r -> commands.add("RCPT"));
        commands.add("DATA");
        for (String command : commands) {
            step = command + " of " + m.token() + where;
            String reply = LoadDriver.reply(in);
            if (!reply.startsWith(command.equals("DATA") ? "354" : "250")) {
                // The rest of the group still answers, but this transaction cannot go on: the connection
                // is dropped (before any final dot, so nothing is half accepted) and the message sent again.
                return driver.refusal(reply, step);
            }
        }
        return null;
    }

    private Ended refused(String reply) {
        return new Ended(List.copyOf(open), driver.refusal(reply, step));
    }

    private void expect(BufferedReader in, String code) throws IOException {
        String reply = LoadDriver.reply(in);
        if (!reply.startsWith(code)) {
            driver.refusal(reply, step);
        }
    }

    private static void write(OutputStream out, byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    private static List<String> lines(BufferedReader in) throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed by the edge");
            }
            lines.add(line);
            if (line.length() < 4 || line.charAt(3) != '-') {
                return lines;
            }
        }
    }
}
