package net.mailrelay.delivery.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.testing.FakeMx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** One connection's life against a real server, where the pool and a delivery thread meet. */
class SmtpConnectionTest {

    static final Duration T = Duration.ofSeconds(2);
    static final byte[] MESSAGE = "Subject: t\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);

    @RegisterExtension
    final FakeMx mx = new FakeMx("mx.fake.test");

    final SmtpClient client;

    SmtpConnectionTest() throws Exception {
        client = new SmtpClient(new Timeouts(T, T, T, T, T, T), new ClientTls(null), SmtpClient.Reuse.DEFAULT);
    }

    @AfterEach
    void close() {
        client.close();
    }

    /**
     * The pool's reaper judged an idle connection stale and quit it just as a delivery took it from the
     * pool: the transaction was cut off and its report never came, so the delivery thread (and its
     * record's offset) waited forever. The transaction now runs to its end and reports.
     */
    @Test
    void aConnectionQuitWhileItCarriesATransactionStillReports() throws Exception {
        SmtpConnection c = opened();
        var report = c.send(tx(), DotStuffing.stuff(MESSAGE, 0, MESSAGE.length));
        c.quit();
        SessionReport r = report.get(10, TimeUnit.SECONDS);
        assertThat(r.endedAt()).isEqualTo(Stage.DONE);
        assertThat(r.finalReply().code()).isEqualTo(250);
        assertThat(mx.deliveries()).hasSize(1);
    }

    @Test
    void aTransactionOnAConnectionAlreadyQuitIsReportedAsLostBeforeMail() throws Exception {
        SmtpConnection c = opened();
        c.quit();
        SessionReport r = c.send(tx(), DotStuffing.stuff(MESSAGE, 0, MESSAGE.length)).get(10, TimeUnit.SECONDS);
        assertThat(r.endedAt()).as("a fresh connection is tried for such a report").isEqualTo(Stage.RSET);
        assertThat(mx.deliveries()).isEmpty();
    }

    private SmtpConnection opened() throws Exception {
        SmtpClient.Opened o = client.open("mx.fake.test", new InetSocketAddress("127.0.0.1", mx.port()),
                new ConnectionSpec("client.test", TlsPolicy.NONE, null), ConnectionGate.NONE.tryAcquire("fake.test"))
                .get(10, TimeUnit.SECONDS);
        assertThat(o.failure()).isNull();
        return o.connection();
    }

    private static ClientSession.Transaction tx() {
        return new ClientSession.Transaction("sender@client.test", List.of("rcpt@fake.test"), BodyType.SEVEN_BIT, false,
                MESSAGE.length);
    }
}
