package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import net.mailrelay.edge.policy.RecipientBlocks;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What the edge counts, seen through a real session on a real broker; and the 421 of an edge that is not ready. */
@ExtendWith(KafkaFixture.class)
class EdgeMetricsTest {

    static final SimpleMeterRegistry REGISTRY = new SimpleMeterRegistry();
    static final AtomicBoolean READY = new AtomicBoolean(true);
    static EdgeReceiver edge;

    @BeforeAll
    static void start(KafkaBroker broker) throws Exception {
        TestEdges t = new TestEdges(broker.bootstrapServers(), broker.freshTopics(List.of()));
        edge = EdgeReceiver.start(t.config(), ClientGuard.NONE, RecipientBlocks.NONE, new EdgeMetrics(REGISTRY), READY::get);
    }

    @AfterAll
    static void stop() {
        edge.close();
    }

    static double count(String name, String... tags) {
        var c = REGISTRY.find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void aSessionIsCountedWithItsMessageAndItsRefusals() {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220 ");
            assertThat(REGISTRY.get("mailrelay.smtp.connections.active").tag("listener", "smtp").gauge().value()).isEqualTo(1);
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250 ");
            c.send("RCPT TO:<someone@elsewhere.test>");
            c.expect("554 5.7.1");
            c.send("RCPT TO:<b@routed.test>");
            c.expect("250 ");
            c.send("DATA");
            c.expect("354 ");
            c.sendRaw("Subject: counted\r\n\r\nhello\r\n.\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            c.expect("250 2.0.0 Ok: queued as ");
            c.send("BOGUS");
            c.expect("500 5.5.1");
            c.send("QUIT");
            c.expect("221 ");
        }
        Awaitility.await().until(() -> count("mailrelay.smtp.sessions", "listener", "smtp", "tls", "no") == 1);
        assertThat(count("mailrelay.smtp.connections", "listener", "smtp")).isGreaterThanOrEqualTo(1);
        assertThat(REGISTRY.get("mailrelay.smtp.connections.active").tag("listener", "smtp").gauge().value()).isZero();
        assertThat(count("mailrelay.smtp.messages.accepted", "listener", "smtp")).isEqualTo(1);
        assertThat(count("mailrelay.smtp.accepted.bytes", "listener", "smtp")).isGreaterThan(30);
        assertThat(count("mailrelay.smtp.rejections", "command", "rcpt", "code", "554", "status", "5.7.1")).isEqualTo(1);
        assertThat(count("mailrelay.smtp.rejections", "command", "other", "code", "500", "status", "5.5.1")).isEqualTo(1);
        assertThat(REGISTRY.get("mailrelay.edge.publish").tag("result", "ok").timer().count()).isEqualTo(1);
    }

    @Test
    void anEdgeThatIsNotReadyTurnsNewConnectionsAwayWith421() {
        READY.set(false);
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("421 4.3.2 ");
            assertThat(c.isClosedByServer()).isTrue();
        } finally {
            READY.set(true);
        }
        assertThat(count("mailrelay.smtp.rejections", "command", "connect", "code", "421", "status", "4.3.2")).isEqualTo(1);
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220 ");
        }
    }
}
