package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Transcript tests against a real edge on port 0 that publishes to a real Kafka broker. */
@ExtendWith(KafkaFixture.class)
class EdgeTranscriptTest {

    static KafkaBroker kafka;
    static Topics topics;
    static EdgeReceiver edge;
    static TopicReader outbound;

    @BeforeAll
    static void start(KafkaBroker broker) throws Exception {
        kafka = broker;
        topics = broker.freshTopics(List.of());
        // No trusted networks: the test client at 127.0.0.1 is an outsider, so relay policy is in force.
        edge = new TestEdges(broker.bootstrapServers(), topics).start(ClientGuard.NONE);
        outbound = new TopicReader(broker, topics.outbound());
    }

    @AfterAll
    static void stop() {
        outbound.close();
        edge.close();
    }

    static SmtpTranscript connect(EdgeReceiver e) {
        SmtpTranscript t = SmtpTranscript.connect("127.0.0.1", e.smtpAddress().getPort());
        t.expect("220 relay.test ESMTP");
        return t;
    }

    static ConsumerRecord<String, byte[]> recordFor(String queueId) {
        return outbound.awaitAny(r -> r.key().equals(queueId), Duration.ofSeconds(30)).stream()
                .filter(r -> r.key().equals(queueId)).findFirst().orElseThrow();
    }

    @Test
    void acceptsAMessageOnlyOnceKafkaHasIt() {
        String body = "Subject: hello\r\n\r\n..a line that was dot-stuffed\r\nbody \u00e9\r\n";
        String queueId;
        try (SmtpTranscript c = connect(edge)) {
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).contains("250-PIPELINING", "250-SIZE 10000", "250-8BITMIME",
                    "250-ENHANCEDSTATUSCODES", "250-DSN");
            c.send("MAIL FROM:<sender@client.test> BODY=8BITMIME");
            c.expect("250 2.1.0 Ok");
            c.send("RCPT TO:<one@routed.test>");
            c.expect("250 2.1.5 Ok");
            c.send("RCPT TO:<two@routed.test> NOTIFY=FAILURE");
            c.expect("250 2.1.5 Ok");
            c.send("DATA");
            c.expect("354 End data with <CR><LF>.<CR><LF>");
            c.sendRaw(body.getBytes(StandardCharsets.UTF_8));
            c.send(".");
            String reply = c.expect("250 2.0.0 Ok: queued as ").get(0);
            queueId = reply.substring("250 2.0.0 Ok: queued as ".length());
            c.send("QUIT");
            c.expect("221 2.0.0 Bye");
        }
        ConsumerRecord<String, byte[]> record = recordFor(queueId);
        assertThat(new String(record.headers().lastHeader(RecordHeaders.FORMAT).value(), StandardCharsets.US_ASCII)).isEqualTo("1");
        RecordCodec.Decoded<Envelope> d = RecordCodec.decode(record.value(), Envelope.class);
        assertThat(d.metadata().queueId().value()).isEqualTo(queueId);
        assertThat(d.metadata().reversePath()).isEqualTo("sender@client.test");
        assertThat(d.metadata().recipients()).extracting(r -> r.address()).containsExactly("one@routed.test", "two@routed.test");
        assertThat(d.metadata().clientAddress()).isEqualTo("127.0.0.1");
        assertThat(d.metadata().heloName()).isEqualTo("client.test");
        String message = new String(d.messageCopy(), StandardCharsets.UTF_8);
        assertThat(message).startsWith("Received: from client.test ([127.0.0.1])\r\n\tby relay.test (mail-relay) with ESMTP id " + queueId + ";");
        assertThat(message).endsWith("\r\n" + body.replace("\r\n..", "\r\n."));
    }

    @Test
    void answersPipelinedCommandsInOrder() {
        try (SmtpTranscript c = connect(edge)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.sendRaw(("MAIL FROM:<a@client.test>\r\nRCPT TO:<x@routed.test>\r\nRCPT TO:<y@elsewhere.test>\r\n"
                    + "RCPT TO:<z@routed.test>\r\nDATA\r\n").getBytes(StandardCharsets.US_ASCII));
            c.expect("250 2.1.0");
            c.expect("250 2.1.5");
            c.expect("554 5.7.1 <y@elsewhere.test>: Relay access denied");
            c.expect("250 2.1.5");
            c.expect("354");
            c.sendRaw("Subject: p\r\n\r\nhi\r\n.\r\nMAIL FROM:<b@client.test>\r\nRCPT TO:<w@routed.test>\r\nQUIT\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            c.expect("250 2.0.0 Ok: queued as");
            c.expect("250 2.1.0");
            c.expect("250 2.1.5");
            c.expect("221");
        }
    }

    @Test
    void refusesAnOversizedMessageAndKeepsTheSession() {
        try (SmtpTranscript c = connect(edge)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<a@client.test> SIZE=20000");
            c.expect("552 5.3.4");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250");
            c.send("RCPT TO:<big@routed.test>");
            c.expect("250");
            c.send("DATA");
            c.expect("354");
            for (int i = 0; i < 200; i++) {
                c.send("x".repeat(100));
            }
            c.send(".");
            c.expect("552 5.3.4 Message size exceeds fixed limit");
            c.send("NOOP");
            c.expect("250 2.0.0 Ok");
        }
    }

    @Test
    void publishesNothingWhenTheClientLeavesMidData() {
        try (SmtpTranscript c = connect(edge)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250");
            c.send("RCPT TO:<gone@routed.test>");
            c.expect("250");
            c.send("DATA");
            c.expect("354");
            c.send("Subject: half a message");
        }
        String marker;
        try (SmtpTranscript c = connect(edge)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            marker = c.sendMessage("a@client.test", List.of("marker@routed.test"), "Subject: marker\r\n\r\nm\r\n")
                    .substring("250 2.0.0 Ok: queued as ".length());
        }
        recordFor(marker);
        assertThat(outbound.poll()).noneMatch(r -> new String(r.value(), StandardCharsets.UTF_8).contains("half a message"));
    }

    @Test
    void answers451WhenKafkaDoesNotAcknowledge() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        TestEdges t = new TestEdges("127.0.0.1:" + deadPort, topics);
        t.trusted = List.of(Cidr.parse("127.0.0.0/8"));
        t.publish = Duration.ofSeconds(2);
        try (EdgeReceiver orphan = t.start(ClientGuard.NONE);
                SmtpTranscript c = connect(orphan)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            long t0 = System.nanoTime();
            String reply = c.sendMessage("a@client.test", List.of("x@anywhere.test"), "Subject: lost?\r\n\r\nno\r\n");
            assertThat(reply).startsWith("451 4.3.0");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
            c.send("NOOP");
            c.expect("250");
        }
    }

    @Test
    void closesIdleConnectionsWith421() throws Exception {
        TestEdges t = new TestEdges(kafka.bootstrapServers(), topics);
        t.idle = Duration.ofMillis(500);
        try (EdgeReceiver impatient = t.start(ClientGuard.NONE);
                SmtpTranscript c = connect(impatient)) {
            c.expect("421 4.4.2 Error: timeout exceeded");
            assertThat(c.isClosedByServer()).isTrue();
        }
    }

    @Test
    void refusesOverlongLinesAndStaysInStep() {
        try (SmtpTranscript c = connect(edge)) {
            c.send("NOOP " + "x".repeat(3000));
            c.expect("500 5.5.6 Error: line too long");
            c.send("NOOP");
            c.expect("250 2.0.0 Ok");
        }
    }

    /** smtp.strict-envelopes (Postfix strict_rfc821_envelopes), on by default for the MX listener. */
    @Test
    void theMxListenerRefusesAddressesWithoutAngleBrackets() {
        try (SmtpTranscript c = connect(edge)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:user@client.test");
            c.expect("501 5.5.4 Syntax error: address not enclosed in <>");
            c.send("MAIL FROM:<user@client.test>");
            c.expect("250 2.1.0");
            c.send("RCPT TO:x@routed.test");
            c.expect("501 5.5.4 Syntax error: address not enclosed in <>");
            c.send("RCPT TO:<x@routed.test>");
            c.expect("250 2.1.5");
        }
    }

    @Test
    void aListenerWithLenientEnvelopesTakesThem() throws Exception {
        TestEdges t = new TestEdges(kafka.bootstrapServers(), topics).listen(ListenerPolicy.forMx(true).withStrictEnvelopes(false));
        try (EdgeReceiver lenient = t.start(ClientGuard.NONE);
                SmtpTranscript c = connect(lenient)) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:user@client.test");
            c.expect("250 2.1.0");
            c.send("RCPT TO:x@routed.test");
            c.expect("250 2.1.5");
        }
    }
}
