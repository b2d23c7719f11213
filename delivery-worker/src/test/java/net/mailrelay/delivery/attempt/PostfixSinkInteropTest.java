package net.mailrelay.delivery.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.smtp.ClientTls;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.testing.Ports;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delivery to a real MTA: Postfix's smtp-sink (Debian package postfix, installed by .ci/run), which
 * offers PIPELINING, 8BITMIME and the rest as Postfix does, and dumps what it receives.
 */
class PostfixSinkInteropTest {

    @TempDir
    Path dir;
    private Process sink;
    private int port;
    private Path dumps;
    private SmtpClient client;

    static Path smtpSink() {
        return Stream.of("/usr/sbin/smtp-sink", "/usr/bin/smtp-sink").map(Path::of).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new AssertionError("smtp-sink not found: install Debian's postfix package (.ci/run does)"));
    }

    @BeforeEach
    void startSink() throws IOException {
        port = Ports.free();
        dumps = Files.createDirectories(dir.resolve("dumps"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setPosixFilePermissions(dumps, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> cmd = new ArrayList<>(List.of(smtpSink().toString()));
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.addAll(List.of("-u", "nobody")); // smtp-sink will not run as root
        }
        cmd.addAll(List.of("-d", dumps + "/msg.", "127.0.0.1:" + port, "50"));
        sink = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("sink.log").toFile()).start();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                return true;
            } catch (IOException e) {
                return false;
            }
        });
        client = new SmtpClient(Timeouts.RFC_5321, new ClientTls(null), SmtpClient.Reuse.DEFAULT);
    }

    @AfterEach
    void stop() {
        client.close();
        sink.destroy();
    }

    @Test
    void deliversToPostfixSmtpSink() throws Exception {
        MessageDelivery d = new MessageDelivery(TransportTable.parse(List.of("sink.test=127.0.0.1:" + port)),
                RoutePolicies.DEFAULT, new MxResolver(MxResolver.resolver("127.0.0.1:9", Duration.ofMillis(200)), 0, 5, 25),
                client, new ClientBehaviourTest.MemoryLedger(), "relay.test", 50, Duration.ofMinutes(1), Clock.systemUTC());
        for (int i = 0; i < 3; i++) {
            byte[] m = ("Subject: interop " + i + "\r\n\r\n.line starting with a dot\r\nt\u00e9st\r\n").getBytes(StandardCharsets.UTF_8);
            Envelope env = new Envelope(QueueId.next(System.currentTimeMillis()), "sender@origin.test",
                    List.of(Recipient.of("a" + i + "@sink.test"), Recipient.of("b" + i + "@sink.test")), BodyType.EIGHT_BIT_MIME,
                    false, null, null, "127.0.0.1", "client.test", null, System.currentTimeMillis(), 0, 0, null);
            assertThat(d.deliver(env, m, 0, m.length)).hasSize(2).allMatch(v -> v instanceof Verdict.Delivered);
        }
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
            try (Stream<Path> files = Files.list(dumps)) {
                return files.count() == 3;
            }
        });
        String all;
        try (Stream<Path> files = Files.list(dumps)) {
            all = String.join("\n", files.map(f -> {
                try {
                    return Files.readString(f, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList());
        }
        assertThat(all).contains("Subject: interop 0", "Subject: interop 2", ".line starting with a dot", "t\u00e9st",
                "a1@sink.test", "b2@sink.test");
    }
}
