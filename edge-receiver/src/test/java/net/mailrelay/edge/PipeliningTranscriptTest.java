package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;
import net.mailrelay.edge.auth.UsersFile;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.LoggerFactory;

/**
 * RFC 2920: a client may pipeline any commands behind the end of a message (the final dot, or BDAT
 * LAST, RFC 3030). Each must be answered, in order, from what is already buffered, once the publish
 * completes: the client sends nothing more until it has its replies. The pipelined group deliberately
 * ends without QUIT, whose reply is flushed anyway and so would hide a reply that was written but never
 * flushed. Run on every way in: plaintext on 25, STARTTLS on 25 and 587, implicit TLS on 465 (with AUTH
 * pipelined in front of the transaction on the submission ports).
 */
@ExtendWith(KafkaFixture.class)
class PipeliningTranscriptTest {

    static final SSLContext TLS = SmtpTranscript.trustingTls();
    static final String BODY = "Subject: x\r\n\r\nbody\r\n";
    /** What follows the end of the message in the same write: answered 250 2.0.0, 250 2.0.0, 250 2.1.0, 250 2.1.5. */
    static final String BEHIND = "RSET\r\nNOOP\r\nMAIL FROM:<b@client.test>\r\nRCPT TO:<y@routed.test>\r\n";

    @TempDir
    static Path dir;
    static EdgeReceiver edge;

    enum Way { PLAIN_25, STARTTLS_25, STARTTLS_587, IMPLICIT_TLS_465 }

    @BeforeAll
    static void start(KafkaBroker broker) throws Exception {
        Topics topics = broker.freshTopics(List.of());
        Path users = dir.resolve("users");
        UsersFile.add(users, "alice", "correct horse".toCharArray());
        TestEdges t = new TestEdges(broker.bootstrapServers(), topics)
                .listen(ListenerPolicy.forMx(true)).listen(ListenerPolicy.forSubmission()).listen(ListenerPolicy.forSubmissions());
        t.usersFile = users;
        edge = t.start(ClientGuard.NONE);
    }

    @AfterAll
    static void stop() {
        edge.close();
    }

    /** Connected, greeted, past EHLO (and TLS and AUTH where the way has them), with MAIL and RCPT accepted. */
    static SmtpTranscript inTransaction(Way way, boolean data) {
        SmtpTranscript c = way == Way.IMPLICIT_TLS_465
                ? SmtpTranscript.connectTls("127.0.0.1", edge.address("submissions").getPort(), TLS)
                : SmtpTranscript.connect("127.0.0.1", edge.address(way == Way.STARTTLS_587 ? "submission" : "smtp").getPort());
        c.expect("220 relay.test ESMTP");
        c.send("EHLO client.test");
        c.expect("250 ");
        if (way == Way.STARTTLS_25 || way == Way.STARTTLS_587) {
            c.send("STARTTLS");
            c.expect("220 2.0.0");
            c.startTls(TLS);
            c.send("EHLO client.test");
            c.expect("250 ");
        }
        String auth = "";
        if (way == Way.STARTTLS_587 || way == Way.IMPLICIT_TLS_465) {
            auth = "AUTH PLAIN " + Base64.getEncoder().encodeToString("\0alice\0correct horse".getBytes(StandardCharsets.UTF_8)) + "\r\n";
        }
        c.sendRaw((auth + "MAIL FROM:<a@client.test>\r\nRCPT TO:<x@routed.test>\r\n" + (data ? "DATA\r\n" : ""))
                .getBytes(StandardCharsets.US_ASCII));
        if (!auth.isEmpty()) {
            c.expect("235 2.7.0"); // the AUTH resume path: what was pipelined behind it is answered too
        }
        c.expect("250 2.1.0");
        c.expect("250 2.1.5");
        if (data) {
            c.expect("354");
        }
        return c;
    }

    static void expectTheCommandsBehindTheEnd(SmtpTranscript c) {
        c.expect("250 2.0.0 Ok"); // RSET
        c.expect("250 2.0.0 Ok"); // NOOP
        c.expect("250 2.1.0");
        c.expect("250 2.1.5");
        c.send("QUIT");
        c.expect("221");
    }

    @ParameterizedTest
    @EnumSource(Way.class)
    void answersEveryCommandPipelinedBehindTheFinalDot(Way way) {
        try (SmtpTranscript c = inTransaction(way, true)) {
            c.sendRaw((BODY + ".\r\n" + BEHIND).getBytes(StandardCharsets.US_ASCII));
            assertThat(c.expect("250 2.0.0 Ok: queued as ").get(0)).isNotEmpty();
            expectTheCommandsBehindTheEnd(c);
        }
    }

    @ParameterizedTest
    @EnumSource(Way.class)
    void answersEveryCommandPipelinedBehindBdatLast(Way way) {
        try (SmtpTranscript c = inTransaction(way, false)) {
            c.sendRaw(("BDAT " + BODY.length() + " LAST\r\n" + BODY + BEHIND).getBytes(StandardCharsets.US_ASCII));
            c.expect("250 2.0.0 Ok: queued as ");
            expectTheCommandsBehindTheEnd(c);
        }
    }

    /**
     * Issue 29: commands pipelined behind QUIT are dropped quietly. Before, each one still buffered when the
     * session closed threw IllegalStateException in SmtpSession and was logged as a connection error.
     */
    @Test
    void commandsPipelinedBehindQuitAreDroppedQuietly() {
        Logger log = (Logger) LoggerFactory.getLogger("net.mailrelay.edge.listener.SmtpConnectionHandler");
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.start();
        log.addAppender(seen);
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.address("smtp").getPort())) {
            c.expect("220 ");
            c.sendRaw("EHLO client.test\r\nQUIT\r\nNOOP\r\nRSET\r\nMAIL FROM:<a@client.test>\r\n".getBytes(StandardCharsets.US_ASCII));
            c.expect("250 ");
            c.expect("221 ");
            assertThat(c.isClosedByServer()).isTrue();
            // The server may still be reading what was pipelined after the client saw the close.
            Awaitility.await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> List.copyOf(seen.list)
                    .stream().noneMatch(e -> e.getFormattedMessage().contains("ended by error")));
        } finally {
            log.detachAppender(seen);
        }
    }
}
