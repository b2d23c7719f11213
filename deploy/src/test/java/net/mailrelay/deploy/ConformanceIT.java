package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;
import net.mailrelay.testing.TestServer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The black-box conformance run of the acceptance criterion, against the built jar's
 * {@code standalone} role as a separate process: greeting, EHLO and HELO, command sequencing, syntax
 * errors, SIZE (RFC 1870), dot-stuffing (RFC 5321 section 4.5.2), SMTP smuggling, 8BITMIME (RFC 6152),
 * SMTPUTF8 (RFC 6531), PIPELINING (RFC 2920), STARTTLS (RFC 3207), implicit TLS (RFC 8314), AUTH
 * (RFC 4954), open-relay refusal, 200 concurrent connections, the idle timeout, and exactly-once arrival
 * at a fake remote MX. The test client on 127.0.0.1 is an untrusted outsider ({@code trusted-networks}
 * is empty), so the relay policy is in force for it.
 */
class ConformanceIT {

    static final String PASSWORD = "s3cret conformance";
    static final SSLContext TLS = SmtpTranscript.trustingTls();

    @RegisterExtension
    static final StandaloneRelay RELAY = new StandaloneRelay();

    /**
     * One {@code standalone} process for the class (it takes seconds to start), with a fake MX for
     * routed.test as its sink. Every port is a free one; the data directory and users file are temporary.
     */
    static final class StandaloneRelay extends TestServer {
        final FakeMx sink = new FakeMx("routed.sink");
        final int smtpPort = Ports.free();
        final int submissionPort = Ports.free();
        final int smtpsPort = Ports.free();
        final int httpPort = Ports.free();
        private Path dir;
        private Path log;
        private Process process;

        @Override
        protected void startServer() throws Exception {
            sink.start();
            Path jar = Path.of(System.getProperty("mailrelay.jar", "target/mail-relay.jar"));
            assertThat(jar).exists();
            dir = Files.createTempDirectory("conformance");
            log = jar.toAbsolutePath().getParent().resolve("ConformanceIT-relay.log");
            Path users = dir.resolve("users");
            addUser(jar, users, "alice", PASSWORD);
            process = new ProcessBuilder(java(), "-Xmx512m", "-jar", jar.toString(), "standalone",
                    "--data-dir", dir.resolve("data").toString(),
                    "--hostname", "relay.test",
                    "--smtp-port", Integer.toString(smtpPort),
                    "--submission-port", Integer.toString(submissionPort),
                    "--smtps-port", Integer.toString(smtpsPort),
                    "--http-port", Integer.toString(httpPort),
                    "--route", "routed.test=" + sink.hostPort(),
                    "--relay-domains", "routed.test",
                    "--users-file", users.toString(),
                    "--set", "trusted-networks=",
                    "--set", "broker.port=" + Ports.free(),
                    "--set", "broker.controller-port=" + Ports.free(),
                    "--set", "hazelcast.port=" + Ports.free(),
                    "--set", "smtp.idle-timeout=3s",
                    "--set", "message.max-size=100KiB",
                    // With no trusted networks the per-client limit (default 50) applies to this test
                    // client too; the concurrency check needs 200 connections from 127.0.0.1.
                    "--set", "smtp.max-connections-per-client=250",
                    "--set", "queue.retry-tiers=1s",
                    "--set", "queue.min-backoff=1s",
                    "--set", "queue.max-backoff=1s")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            // /health/ready answers only once everything, the edge's listeners included, is up.
            HttpClient http = HttpClient.newHttpClient();
            HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/health/ready"))
                    .timeout(Duration.ofSeconds(2)).build();
            Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                    .ignoreExceptionsInstanceOf(IOException.class).until(() -> {
                        assertThat(process.isAlive()).as("relay process alive; log:%n%s", Files.readString(log)).isTrue();
                        return http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                    });
        }

        private static String java() {
            return Path.of(System.getProperty("java.home"), "bin", "java").toString();
        }

        /** {@code mail-relay.jar users add --file F --password-stdin USER}, the password on standard input. */
        private static void addUser(Path jar, Path file, String user, String password) throws Exception {
            Process p = new ProcessBuilder(java(), "-jar", jar.toString(), "users", "add", "--file", file.toString(),
                    "--password-stdin", user).redirectErrorStream(true).start();
            try (OutputStream in = p.getOutputStream()) {
                in.write((password + "\n").getBytes(StandardCharsets.UTF_8));
            }
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("users add finished").isTrue();
            assertThat(p.exitValue()).as("users add: %s", output).isZero();
        }

        @Override
        protected void stopServer() {
            try {
                if (process != null) {
                    process.destroy(); // SIGTERM: the shutdown hook stops every part
                    if (!process.waitFor(30, TimeUnit.SECONDS)) {
                        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                sink.close();
                deleteTree(dir);
            }
        }

        private static void deleteTree(Path root) {
            if (root == null) {
                return;
            }
            try (Stream<Path> files = Files.walk(root)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    static SmtpTranscript smtp() {
        return greeted(SmtpTranscript.connect("127.0.0.1", RELAY.smtpPort));
    }

    static SmtpTranscript submission() {
        return greeted(SmtpTranscript.connect("127.0.0.1", RELAY.submissionPort));
    }

    static SmtpTranscript smtps() {
        SmtpTranscript c = SmtpTranscript.connectTls("127.0.0.1", RELAY.smtpsPort, TLS);
        assertThat(c.tlsProtocol()).isIn("TLSv1.3", "TLSv1.2");
        return greeted(c);
    }

    private static SmtpTranscript greeted(SmtpTranscript c) {
        c.expect("220 relay.test ESMTP");
        return c;
    }

    /** EHLO, returning the extension keywords (without the reply code and the host-name line). */
    static List<String> ehlo(SmtpTranscript c) {
        List<String> lines = c.expect("250 ");
        assertThat(lines.get(0)).startsWith("250").contains("relay.test");
        return lines.stream().skip(1).map(l -> l.substring(4)).toList();
    }

    static List<String> sendEhlo(SmtpTranscript c) {
        c.send("EHLO client.test");
        return ehlo(c);
    }

    static String plain(String user, String password) {
        return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    }

    static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static String token() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** Waits for exactly one delivery to this recipient at the sink, and returns it. */
    static FakeMx.Delivery deliveredTo(String recipient) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(RELAY.sink.deliveriesTo(recipient))
                .as("deliveries to %s; the sink has had these recipients: %s", recipient, RELAY.sink.deliveries().stream()
                        .flatMap(d -> d.recipients().stream()).toList())
                .isNotEmpty());
        assertThat(RELAY.sink.deliveriesTo(recipient)).hasSize(1);
        return RELAY.sink.deliveriesTo(recipient).get(0);
    }

    /** The delivered data after the relay's own Received: field (its first field, folded over several lines). */
    static byte[] afterReceivedField(byte[] data) {
        String s = new String(data, StandardCharsets.ISO_8859_1); // one char per byte: indexes are byte offsets
        assertThat(s).startsWith("Received: from client.test ([127.0.0.1])\r\n\tby relay.test (mail-relay) with ");
        int i = 0;
        do {
            int eol = s.indexOf("\r\n", i);
            assertThat(eol).as("end of the Received: field").isNotNegative();
            i = eol + 2;
        } while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t'));
        return Arrays.copyOfRange(data, i, data.length);
    }

    // ---- the conformance areas -----------------------------------------------------------------

    @Test
    void greeting() {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", RELAY.smtpPort)) {
            List<String> greeting = c.readReply();
            assertThat(greeting).hasSize(1);
            assertThat(greeting.get(0)).startsWith("220 relay.test ESMTP");
            c.send("QUIT");
            c.expect("221 2.0.0");
            assertThat(c.isClosedByServer()).isTrue();
        }
    }

    @Test
    void ehlo() {
        try (SmtpTranscript c = smtp()) {
            List<String> ext = sendEhlo(c);
            assertThat(ext).contains("PIPELINING", "SIZE 102400", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
                    "CHUNKING", "STARTTLS");
            assertThat(ext).noneMatch(e -> e.startsWith("AUTH"));
        }
        try (SmtpTranscript c = submission()) {
            assertThat(sendEhlo(c)).contains("STARTTLS").noneMatch(e -> e.startsWith("AUTH"));
            c.send("STARTTLS");
            c.expect("220 2.0.0");
            c.startTls(TLS);
            assertThat(sendEhlo(c)).contains("AUTH PLAIN LOGIN", "SIZE 102400").doesNotContain("STARTTLS");
        }
    }

    @Test
    void helo() {
        try (SmtpTranscript c = smtp()) {
            c.send("HELO client.test");
            assertThat(c.expect("250 ")).containsExactly("250 relay.test");
            // ESMTP parameters need EHLO (RFC 5321 section 4.1.1.11).
            c.send("MAIL FROM:<a@client.test> BODY=8BITMIME");
            c.expect("555 5.5.4");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<helo@routed.test>");
            c.expect("250 2.1.5");
            c.send("HELO");
            c.expect("501 5.5.4");
        }
    }

    @Test
    void sequencing() {
        try (SmtpTranscript c = smtp()) {
            c.send("MAIL FROM:<a@client.test>");
            c.expect("503 5.5.1");
            sendEhlo(c);
            c.send("RCPT TO:<x@routed.test>");
            c.expect("503 5.5.1");
            c.send("DATA");
            c.expect("503 5.5.1");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 2.1.0");
            c.send("DATA");
            c.expect("503 5.5.1");
            c.send("MAIL FROM:<b@client.test>");
            c.expect("503 5.5.1");
            c.send("RSET");
            c.expect("250 2.0.0");
            c.send("MAIL FROM:<b@client.test>");
            c.expect("250 2.1.0");
        }
    }

    @Test
    void syntax() {
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            c.send("FROB nicate");
            c.expect("500 5.5.1");
            c.send("MAIL FROM:<bad sender@client.test>");
            c.expect("501 5.1.7");
            c.send("MAIL FROM:<a@client.test> FROBNICATE=yes");
            c.expect("555 5.5.4");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<bad recipient@routed.test>");
            c.expect("501 5.1.3");
            c.send("RCPT TO:<x@routed.test> FROBNICATE=yes");
            c.expect("555 5.5.4");
            c.send("NOOP " + "x".repeat(3000));
            c.expect("500 5.5.6");
            // The overlong line was dropped whole: the session is still in step and the transaction intact.
            c.send("NOOP");
            c.expect("250 2.0.0");
            c.send("RCPT TO:<syntax-" + token() + "@routed.test>");
            c.expect("250 2.1.5");
        }
    }

    @Test
    void size() {
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            c.send("MAIL FROM:<a@client.test> SIZE=102401");
            c.expect("552 5.3.4");
            c.send("MAIL FROM:<a@client.test> SIZE=1000");
            c.expect("250 2.1.0");
            String rcpt = "big-" + token() + "@routed.test";
            c.send("RCPT TO:<" + rcpt + ">");
            c.expect("250 2.1.5");
            c.send("DATA");
            c.expect("354");
            ByteArrayOutputStream big = new ByteArrayOutputStream();
            big.writeBytes("Subject: too big\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] line = ("y".repeat(98) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < 1100; i++) { // about 110 kB, over the 100 KiB limit
                big.writeBytes(line);
            }
            c.sendRaw(big.toByteArray());
            c.send(".");
            c.expect("552 5.3.4");
            c.send("NOOP");
            c.expect("250 2.0.0");
            assertThat(RELAY.sink.timesOffered(rcpt)).isZero();
        }
    }

    @Test
    void dotStuffing() {
        String rcpt = "dots-" + token() + "@routed.test";
        String message = "Subject: dots\r\nMessage-ID: <" + token() + "@client.test>\r\n\r\n"
                + ".\r\n..\r\n.x\r\n...\r\nend\r\n";
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            // sendMessage dot-stuffs: on the wire the lines are "..", "...", "..x" and "....".
            assertThat(c.sendMessage("a@client.test", List.of(rcpt), message)).startsWith("250 2.0.0 Ok: queued as ");
        }
        byte[] delivered = afterReceivedField(deliveredTo(rcpt).data());
        assertThat(new String(delivered, StandardCharsets.UTF_8)).isEqualTo(message);
    }

    @Test
    void smuggling() {
        String tag = token();
        // Each a would-be end of data that is not <CRLF>.<CRLF> (RFC 5321 section 4.1.1.4), followed by
        // a smuggled transaction; only the real <CRLF>.<CRLF> at the end ends the data.
        List<String> fakeEnds = List.of("\n.\n", "\r\n.\n", "\n.\r\n");
        for (int i = 0; i < fakeEnds.size(); i++) {
            String smuggled = "smuggled-" + tag + "-" + i + "@routed.test";
            try (SmtpTranscript c = smtp()) {
                sendEhlo(c);
                c.send("MAIL FROM:<a@client.test>");
                c.expect("250 2.1.0");
                c.send("RCPT TO:<carrier-" + tag + "-" + i + "@routed.test>");
                c.expect("250 2.1.5");
                c.send("DATA");
                c.expect("354");
                c.sendRaw(("Subject: smuggle " + tag + "\r\n\r\nx" + fakeEnds.get(i)
                        + "MAIL FROM:<evil@client.test>\r\nRCPT TO:<" + smuggled + ">\r\nDATA\r\n"
                        + "Subject: smuggled " + tag + "\r\n\r\nevil\r\n.\r\n").getBytes(StandardCharsets.US_ASCII));
                // Had the fake end ended the data, this would be 250 (queued) followed by the smuggled replies.
                c.expect("550 5.5.2");
                assertThat(c.isClosedByServer()).isTrue();
            }
        }
        // Neither the carrier nor the smuggled message may reach the sink, now or a little later.
        Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() ->
                RELAY.sink.deliveries().stream().noneMatch(d -> d.text().contains(tag)));
        for (int i = 0; i < fakeEnds.size(); i++) {
            assertThat(RELAY.sink.timesOffered("smuggled-" + tag + "-" + i + "@routed.test")).isZero();
            assertThat(RELAY.sink.timesOffered("carrier-" + tag + "-" + i + "@routed.test")).isZero();
        }
    }

    @Test
    void eightBitMime() {
        String rcpt = "eight-" + token() + "@routed.test";
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        m.writeBytes(("Subject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
                + "Content-Transfer-Encoding: 8bit\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        m.writeBytes(new byte[] {'c', 'a', 'f', (byte) 0xE9, ' ', (byte) 0x80, (byte) 0xFF, (byte) 0xA0, '\r', '\n'});
        m.writeBytes("\u00fcber UTF-8 \u20ac\r\n".getBytes(StandardCharsets.UTF_8));
        byte[] message = m.toByteArray();
        try (SmtpTranscript c = smtp()) {
            assertThat(sendEhlo(c)).contains("8BITMIME");
            c.send("MAIL FROM:<a@client.test> BODY=8BITMIME");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<" + rcpt + ">");
            c.expect("250 2.1.5");
            c.send("DATA");
            c.expect("354");
            c.sendRaw(message);
            c.send(".");
            c.expect("250 2.0.0 Ok: queued as ");
        }
        assertThat(afterReceivedField(deliveredTo(rcpt).data())).isEqualTo(message);
    }

    @Test
    void smtpUtf8() {
        String local = "j\u00f6rg-" + token();
        String rcpt = local + "@routed.test";
        try (SmtpTranscript c = smtp()) {
            assertThat(sendEhlo(c)).contains("SMTPUTF8");
            // Without SMTPUTF8 a non-ASCII address is refused (RFC 6531 section 3.4).
            c.send("MAIL FROM:<\u00e9lodie@client.test>");
            c.expect("553 5.6.7");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<" + rcpt + ">");
            c.expect("553 5.6.7");
            c.send("RSET");
            c.expect("250 2.0.0");
            c.send("MAIL FROM:<\u00e9lodie@client.test> SMTPUTF8");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<" + rcpt + ">");
            c.expect("250 2.1.5");
            c.send("DATA");
            c.expect("354");
            c.sendRaw("Subject: gr\u00fc\u00dfe\r\n\r\nHallo\r\n".getBytes(StandardCharsets.UTF_8));
            c.send(".");
            c.expect("250 2.0.0 Ok: queued as ");
        }
        FakeMx.Delivery d = deliveredTo(rcpt);
        assertThat(d.mailFrom()).isEqualTo("\u00e9lodie@client.test");
        assertThat(d.text()).contains("with UTF8SMTP id ").endsWith("\r\nSubject: gr\u00fc\u00dfe\r\n\r\nHallo\r\n");
    }

    @Test
    void pipelining() {
        String tag = token();
        try (SmtpTranscript c = smtp()) {
            assertThat(sendEhlo(c)).contains("PIPELINING");
            // One write, four commands (RFC 2920): the replies come back in the order of the commands.
            c.sendRaw(("MAIL FROM:<a@client.test>\r\nRCPT TO:<pipe-" + tag + "@routed.test>\r\n"
                    + "RCPT TO:<pipe-" + tag + "@foreign.test>\r\nDATA\r\n").getBytes(StandardCharsets.US_ASCII));
            c.expect("250 2.1.0");
            c.expect("250 2.1.5");
            c.expect("554 5.7.1");
            c.expect("354");
            c.sendRaw(("Subject: pipelined " + tag + "\r\n\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n").getBytes(StandardCharsets.US_ASCII));
            c.expect("250 2.0.0 Ok: queued as ");
            c.expect("250 2.0.0");
            c.expect("221 2.0.0");
        }
        assertThat(deliveredTo("pipe-" + tag + "@routed.test").recipients()).containsExactly("pipe-" + tag + "@routed.test");
    }

    @Test
    void startTls() {
        String rcpt = "tls-" + token() + "@routed.test";
        try (SmtpTranscript c = smtp()) {
            assertThat(sendEhlo(c)).contains("STARTTLS");
            c.send("STARTTLS");
            c.expect("220 2.0.0");
            c.startTls(TLS);
            assertThat(c.tlsProtocol()).isIn("TLSv1.3", "TLSv1.2");
            // RFC 3207 section 4.2: the session starts over; EHLO again, and no STARTTLS any more.
            c.send("MAIL FROM:<a@client.test>");
            c.expect("503 5.5.1");
            assertThat(sendEhlo(c)).doesNotContain("STARTTLS");
            c.send("STARTTLS");
            c.expect("554 5.5.1");
            assertThat(c.sendMessage("a@client.test", List.of(rcpt), "Subject: over tls\r\n\r\nsecret\r\n"))
                    .startsWith("250 2.0.0 Ok: queued as ");
        }
        assertThat(deliveredTo(rcpt).text()).contains("with ESMTPS id ").endsWith("\r\nSubject: over tls\r\n\r\nsecret\r\n");

        // Plaintext sent after STARTTLS, before the handshake (CVE-2011-0411 style), must be discarded.
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            c.sendRaw("STARTTLS\r\nFROB injected\r\nMAIL FROM:<injected@evil.test>\r\n".getBytes(StandardCharsets.US_ASCII));
            c.expect("220 2.0.0");
            c.startTls(TLS);
            c.send("NOOP");
            c.expect("250 2.0.0"); // had the injected lines been run, a 500 and a 503 would come first
            sendEhlo(c);
            c.send("RCPT TO:<x@routed.test>");
            c.expect("503 5.5.1"); // no MAIL transaction was smuggled in
        }
    }

    @Test
    void implicitTls() {
        try (SmtpTranscript c = smtps()) {
            List<String> ext = sendEhlo(c);
            assertThat(ext).contains("AUTH PLAIN LOGIN", "PIPELINING", "SIZE 102400").doesNotContain("STARTTLS");
            c.send("NOOP");
            c.expect("250 2.0.0");
            c.send("QUIT");
            c.expect("221 2.0.0");
        }
    }

    @Test
    void auth() {
        try (SmtpTranscript c = submission()) {
            assertThat(sendEhlo(c)).noneMatch(e -> e.startsWith("AUTH"));
            c.send("MAIL FROM:<alice@client.test>");
            c.expect("530 5.7.0");
            c.send("AUTH PLAIN " + plain("alice", PASSWORD));
            c.expect("503 5.5.1"); // never in plaintext (RFC 4954 section 4)
            c.send("STARTTLS");
            c.expect("220 2.0.0");
            c.startTls(TLS);
            assertThat(sendEhlo(c)).contains("AUTH PLAIN LOGIN");
            c.send("MAIL FROM:<alice@client.test>");
            c.expect("530 5.7.0");
            c.send("AUTH PLAIN " + plain("alice", "wrong password"));
            c.expect("535 5.7.8");
            c.send("AUTH PLAIN " + plain("alice", PASSWORD));
            c.expect("235 2.7.0");
            // Authenticated: relaying to a foreign domain is allowed (no route for it, so it is not awaited).
            assertThat(c.sendMessage("alice@client.test", List.of("x@foreign.test"), "Subject: submitted\r\n\r\nhi\r\n"))
                    .startsWith("250 2.0.0 Ok: queued as ");
        }
        try (SmtpTranscript c = smtps()) {
            sendEhlo(c);
            c.send("AUTH LOGIN");
            c.expect("334 VXNlcm5hbWU6");
            c.send(base64("alice"));
            c.expect("334 UGFzc3dvcmQ6");
            c.send(base64(PASSWORD));
            c.expect("235 2.7.0");
            c.send("MAIL FROM:<alice@client.test>");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<y@foreign.test>");
            c.expect("250 2.1.5");
        }
    }

    @Test
    void openRelay() {
        String tag = token();
        String percent = "x%foreign.test-" + tag + "@routed.test";
        String plain = "x-" + tag + "@routed.test";
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 2.1.0");
            c.send("RCPT TO:<x@foreign.test>");
            c.expect("554 5.7.1");
            // RFC 5321 appendix C: the source route is dropped, and the mailbox left is foreign.
            c.send("RCPT TO:<@routed.test:x@foreign.test>");
            c.expect("554 5.7.1");
            c.send("RCPT TO:<X@FOREIGN.TEST>");
            c.expect("554 5.7.1");
            // The percent hack through a relay domain asks its MX to relay on: refused to outsiders, as
            // Postfix's reject_unauth_destination does.
            c.send("RCPT TO:<" + percent + ">");
            c.expect("554 5.7.1");
            c.send("RCPT TO:<" + plain + ">");
            c.expect("250 2.1.5");
            c.send("DATA");
            c.expect("354");
            c.send("Subject: percent " + tag);
            c.send("");
            c.send("hi");
            c.send(".");
            c.expect("250 2.0.0 Ok: queued as ");
        }
        assertThat(deliveredTo(plain).recipients()).containsExactly(plain);
        // The unauthenticated submission listener does not relay either: it wants AUTH first.
        try (SmtpTranscript c = submission()) {
            sendEhlo(c);
            c.send("MAIL FROM:<a@client.test>");
            c.expect("530 5.7.0");
        }
    }

    @Test
    void twoHundredConcurrentConnections() throws Exception {
        int n = 200;
        String tag = token();
        CyclicBarrier allOpen = new CyclicBarrier(n);
        ExecutorService clients = Executors.newFixedThreadPool(n);
        try {
            List<Future<List<String>>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String rcpt = "conc-" + tag + "-" + i + "@routed.test";
                results.add(clients.submit(() -> {
                    try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", RELAY.smtpPort)) {
                        String greeting = String.join("\n", c.readReply());
                        allOpen.await(30, TimeUnit.SECONDS); // all 200 connected and greeted at once
                        if (!greeting.startsWith("220 ")) {
                            return List.of(greeting);
                        }
                        sendEhlo(c);
                        String queued = c.sendMessage("a@client.test", List.of(rcpt), "Subject: concurrent " + tag + "\r\n\r\nhi\r\n");
                        c.send("QUIT");
                        c.expect("221");
                        return List.of(greeting, queued);
                    }
                }));
            }
            for (Future<List<String>> f : results) {
                List<String> replies = f.get(90, TimeUnit.SECONDS);
                assertThat(replies.get(0)).startsWith("220 relay.test ESMTP");
                assertThat(replies.get(1)).startsWith("250 2.0.0 Ok: queued as ");
            }
        } finally {
            clients.shutdownNow();
        }
        Function<FakeMx.Delivery, Boolean> ours = d -> d.recipients().get(0).startsWith("conc-" + tag + "-");
        Awaitility.await().atMost(Duration.ofSeconds(60))
                .until(() -> RELAY.sink.deliveries().stream().filter(ours::apply).count() >= n);
        List<FakeMx.Delivery> arrived = RELAY.sink.deliveries().stream().filter(ours::apply).toList();
        assertThat(arrived).hasSize(n);
        assertThat(arrived.stream().map(d -> d.recipients().get(0)).distinct()).hasSize(n);
    }

    @Test
    void idleTimeout() {
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            long t0 = System.nanoTime();
            // Say nothing: the next thing read is the server giving up (smtp.idle-timeout=3s).
            c.expect("421 4.4.2");
            Duration waited = Duration.ofNanos(System.nanoTime() - t0);
            assertThat(waited).isBetween(Duration.ofMillis(2500), Duration.ofSeconds(6));
            assertThat(c.isClosedByServer()).isTrue();
        }
    }

    @Test
    void exactlyOnceArrival() {
        int n = 50;
        String tag = token();
        String rcpt = "once-" + tag + "@routed.test";
        List<String> ids = new ArrayList<>();
        try (SmtpTranscript c = smtp()) {
            sendEhlo(c);
            for (int i = 0; i < n; i++) {
                String id = "<once-" + tag + "-" + i + "@client.test>";
                ids.add(id);
                assertThat(c.sendMessage("a@client.test", List.of(rcpt), "Message-ID: " + id + "\r\nSubject: once " + i
                        + "\r\n\r\nexactly once\r\n")).startsWith("250 2.0.0 Ok: queued as ");
            }
            c.send("QUIT");
            c.expect("221 2.0.0");
        }
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> arrivalsById(rcpt).keySet().containsAll(ids));
        // ... and no duplicate turns up late (a redelivered record, a retry after a lost 250).
        Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).until(() -> {
            Map<String, Long> arrivals = arrivalsById(rcpt);
            return arrivals.size() == n && arrivals.values().stream().allMatch(count -> count == 1);
        });
        assertThat(arrivalsById(rcpt)).containsOnlyKeys(ids).allSatisfy((id, count) -> assertThat(count).isEqualTo(1));
    }

    /** How often each Message-ID arrived at the sink for this recipient. */
    private static Map<String, Long> arrivalsById(String rcpt) {
        return RELAY.sink.deliveriesTo(rcpt).stream().map(d -> messageId(d.text()))
                .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
    }

    private static String messageId(String message) {
        return message.lines().filter(l -> l.startsWith("Message-ID: ")).findFirst()
                .map(l -> l.substring("Message-ID: ".length())).orElse("(none)");
    }
}
