package net.mailrelay.deploy.bench;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A blocking SMTP client connection for the load generator: writes commands, reads (multi-line)
 * replies. Deliberately minimal, no pipelining, as smtp-source: one command, one reply.
 */
final class SmtpLines implements AutoCloseable {

    /** A reply: its code and its last line (which carries the queue id after DATA). */
    record Reply(int code, String lastLine) {
        boolean positive() {
            return code >= 200 && code < 400;
        }
    }

    private final Socket socket;
    private final LineReader in;
    private final OutputStream out;

    SmtpLines(InetSocketAddress server, int timeoutMillis) throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(server, timeoutMillis);
        socket.setSoTimeout(timeoutMillis);
        in = new LineReader(socket.getInputStream());
        out = new BufferedOutputStream(socket.getOutputStream(), 65536);
    }

    Reply command(String line) throws IOException {
        send(line);
        return reply();
    }

    void send(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    void write(byte[] bytes) throws IOException {
        out.write(bytes);
    }

    void flush() throws IOException {
        out.flush();
    }

    Reply reply() throws IOException {
        while (true) {
            String line = readLine();
            if (line.length() < 3) {
                throw new IOException("malformed reply line '" + line + "'");
            }
            int code;
            try {
                code = Integer.parseInt(line.substring(0, 3));
            } catch (NumberFormatException e) {
                throw new IOException("malformed reply line '" + line + "'");
            }
            if (line.length() == 3 || line.charAt(3) != '-') {
                return new Reply(code, line);
            }
        }
    }

    private String readLine() throws IOException {
        if (!in.next()) {
            throw new EOFException("connection closed by the server");
        }
        return in.text();
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing after an error: nothing left to do
        }
    }
}
