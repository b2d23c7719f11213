package net.mailrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A scripted SMTP client over a real socket, for transcript tests in the style of SubEthaSMTP:
 * {@code send("MAIL FROM:<a@b>"); expect("250 2.1.0")}.
 */
public final class SmtpTranscript implements AutoCloseable {

    private Socket socket;
    private InputStream in;
    private OutputStream out;

    private SmtpTranscript(Socket socket) throws IOException {
        use(socket);
    }

    private void use(Socket s) throws IOException {
        this.socket = s;
        this.in = new BufferedInputStream(s.getInputStream());
        this.out = s.getOutputStream();
    }

    /** Connects with TLS from the first byte (implicit TLS, RFC 8314). */
    public static SmtpTranscript connectTls(String host, int port, SSLContext tls) {
        try {
            SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket();
            s.connect(new InetSocketAddress(host, port), 5_000);
            s.setSoTimeout(30_000);
            s.startHandshake();
            return new SmtpTranscript(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** After a 220 to STARTTLS: runs the TLS handshake over the same connection (RFC 3207). */
    public SmtpTranscript startTls(SSLContext tls) {
        try {
            SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(socket, socket.getInetAddress().getHostAddress(),
                    socket.getPort(), true);
            s.startHandshake();
            use(s);
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The negotiated TLS protocol, or null on a plaintext connection. */
    public String tlsProtocol() {
        return socket instanceof SSLSocket s ? s.getSession().getProtocol() : null;
    }

    /** A client context that trusts any certificate: test servers use self-signed ones. */
    public static SSLContext trustingTls() {
        try {
            SSLContext c = SSLContext.getInstance("TLS");
            c.init(null, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, null);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static SmtpTranscript connect(String host, int port) {
        try {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(host, port), 5_000);
            s.setSoTimeout(30_000);
            return new SmtpTranscript(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends one line; CRLF is added. */
    public SmtpTranscript send(String line) {
        return sendRaw((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    public SmtpTranscript sendRaw(byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads one complete (possibly multi-line) reply and checks that its last line starts with the prefix. */
    public List<String> expect(String prefix) {
        List<String> lines = readReply();
        assertThat(lines.get(lines.size() - 1)).as("reply to the last command").startsWith(prefix);
        return lines;
    }

    /** Reads one complete reply, each line without CRLF. */
    public List<String> readReply() {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = readLine();
            if (line == null) {
                throw new AssertionError("connection closed; reply so far: " + lines);
            }
            lines.add(line);
            if (line.length() < 4 || line.charAt(3) != '-') {
                return lines;
            }
        }
    }

    /** True once the server has closed the connection (reads to end of stream). */
    public boolean isClosedByServer() {
        return readLine() == null;
    }

    /** The usual EHLO / MAIL / RCPT / DATA exchange for one message; returns the final reply line. */
    public String sendMessage(String from, List<String> recipients, String message) {
        send("MAIL FROM:<" + from + ">");
        expect("250");
        for (String r : recipients) {
            send("RCPT TO:<" + r + ">");
            expect("250");
        }
        send("DATA");
        expect("354");
        sendRaw(dotStuff(message).getBytes(StandardCharsets.UTF_8));
        send(".");
        List<String> reply = readReply();
        return reply.get(reply.size() - 1);
    }

    private static String dotStuff(String message) {
        String m = message.endsWith("\r\n") ? message : message + "\r\n";
        return (m.startsWith(".") ? "." : "") + m.replace("\r\n.", "\r\n..");
    }

    private String readLine() {
        try {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1) {
                if (c == '\n') {
                    String s = line.toString(StandardCharsets.UTF_8);
                    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
                }
                line.write(c);
            }
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
