package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import javax.net.ssl.SSLContext;
import net.mailrelay.edge.auth.UsersFile;
import net.mailrelay.edge.cluster.HazelcastClientGuard;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS, AUTH, CHUNKING and the protective limits, over real sockets and real TLS, against an edge that
 * publishes to a real broker and counts clients in a real Hazelcast member.
 */
@ExtendWith(KafkaFixture.class)
class EdgeSecurityTest {

    static final SSLContext TLS = SmtpTranscript.trustingTls();
    @TempDir
    static Path dir;
    static KafkaBroker kafka;
    static Topics topics;
    static HazelcastInstance hazelcast;
    static EdgeReceiver edge;
    static TopicReader outbound;

    @BeforeAll
    static void start(KafkaBroker broker) throws Exception {
        kafka = broker;
        topics = broker.freshTopics(List.of());
        Path users = dir.resolve("users");
        UsersFile.add(users, "alice", "correct horse".toCharArray());
        hazelcast = member();
        TestEdges t = new TestEdges(broker.bootstrapServers(), topics)
                .listen(ListenerPolicy.forMx(true)).listen(ListenerPolicy.forSubmission()).listen(ListenerPolicy.forSubmissions());
        t.usersFile = users;
        edge = t.start(new HazelcastClientGuard(hazelcast, 0, 3, Duration.ofMinutes(10), Clock.systemUTC()));
        outbound = new TopicReader(broker, topics.outbound());
    }

    static HazelcastInstance member() {
        Config c = new Config().setClusterName("edge-" + UUID.randomUUID());
        c.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
        c.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(false);
        c.setProperty("hazelcast.logging.type", "slf4j");
        c.setProperty("hazelcast.phone.home.enabled", "false");
        return Hazelcast.newHazelcastInstance(c);
    }

    @AfterAll
    static void stop() {
        outbound.close();
        edge.close();
        hazelcast.shutdown();
    }

    static SmtpTranscript connect(String listener) {
        SmtpTranscript c = listener.equals("submissions")
                ? SmtpTranscript.connectTls("127.0.0.1", edge.address(listener).getPort(), TLS)
                : SmtpTranscript.connect("127.0.0.1", edge.address(listener).getPort());
        c.expect("220 relay.test ESMTP");
        return c;
    }

    static String plain(String user, String password) {
        return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    }

    static Envelope published(String queueReply) {
        String id = queueReply.substring(queueReply.lastIndexOf(' ') + 1);
        ConsumerRecord<String, byte[]> r = outbound.awaitAny(x -> x.key().equals(id), Duration.ofSeconds(30)).stream()
                .filter(x -> x.key().equals(id)).findFirst().orElseThrow();
        return RecordCodec.decode(r.value(), Envelope.class).metadata();
    }

    static String message(String queueReply) {
        String id = queueReply.substring(queueReply.lastIndexOf(' ') + 1);
        ConsumerRecord<String, byte[]> r = outbound.awaitAny(x -> x.key().equals(id), Duration.ofSeconds(30)).stream()
                .filter(x -> x.key().equals(id)).findFirst().orElseThrow();
        return new String(RecordCodec.decode(r.value(), Envelope.class).messageCopy(), StandardCharsets.UTF_8);
    }

    @Test
    void startTlsThenAMessage() {
        try (SmtpTranscript c = connect("smtp")) {
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).anyMatch(l -> l.endsWith("STARTTLS")).noneMatch(l -> l.contains("AUTH"));
            c.send("STARTTLS");
            c.expect("220 2.0.0 Ready to start TLS");
            c.startTls(TLS);
            assertThat(c.tlsProtocol()).isIn("TLSv1.3", "TLSv1.2");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("503 5.5.1 Error: send HELO/EHLO first");
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).noneMatch(l -> l.contains("STARTTLS"));
            String reply = c.sendMessage("a@client.test", List.of("x@routed.test"), "Subject: tls\r\n\r\nhi\r\n");
            assertThat(reply).startsWith("250 2.0.0 Ok: queued as");
            assertThat(message(reply)).contains("with ESMTPS id");
        }
    }

    @Test
    void plaintextPipelinedAfterStartTlsIsDropped() {
        try (SmtpTranscript c = connect("smtp")) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.sendRaw("STARTTLS\r\nFROB injected\r\n".getBytes(StandardCharsets.US_ASCII));
            c.expect("220 2.0.0");
            c.startTls(TLS);
            c.send("NOOP");
            c.expect("250 2.0.0 Ok"); // had FROB been run, a 500 would come first
        }
    }

    @Test
    void submissionRequiresTlsAndAuthentication() {
        try (SmtpTranscript c = connect("submission")) {
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).noneMatch(l -> l.contains("AUTH"));
            c.send("AUTH PLAIN " + plain("alice", "correct horse"));
            c.expect("503 5.5.1 Error: authentication not enabled");
            c.send("MAIL FROM:<alice@client.test>");
            c.expect("530 5.7.0 Authentication required");
            c.send("STARTTLS");
            c.expect("220");
            c.startTls(TLS);
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).anyMatch(l -> l.endsWith("AUTH PLAIN LOGIN"));
            c.send("AUTH PLAIN " + plain("alice", "correct horse"));
            c.expect("235 2.7.0 Authentication successful");
            String reply = c.sendMessage("alice@client.test", List.of("anyone@far-away.test"), "Subject: submitted\r\n\r\nhi\r\n");
            assertThat(reply).startsWith("250 2.0.0 Ok: queued as");
            assertThat(published(reply).authenticatedAs()).isEqualTo("alice");
            String m = message(reply);
            assertThat(m).contains("with ESMTPSA id").contains("Message-ID: <").contains("Date: ");
        }
    }

    /**
     * What the listeners offer: TLS 1.3 and 1.2 only, forward-secret AEAD suites only. Checked on the
     * server's own engine (the JDK client would not offer TLS 1.1 or older to prove it by handshake), and
     * by handshakes over real sockets: a TLS 1.2 client with only CBC or static-RSA suites is refused,
     * one with the JDK's defaults gets an ECDHE AEAD suite.
     */
    @Test
    void offersOnlyTls12AndNewerWithForwardSecretAeadCiphers() throws Exception {
        javax.net.ssl.SSLEngine engine = net.mailrelay.edge.listener.TlsContexts.server(
                TestEdges.certificate().certificate().toPath(), TestEdges.certificate().privateKey().toPath())
                .newEngine(io.netty.buffer.ByteBufAllocator.DEFAULT);
        assertThat(engine.getEnabledProtocols()).containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        assertThat(engine.getEnabledCipherSuites()).isNotEmpty().allSatisfy(suite -> assertThat(suite)
                .matches("TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256"
                        + "|ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256))"));

        int port = edge.address("submissions").getPort();
        for (String weak : List.of("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
                "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256")) {
            try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) TLS.getSocketFactory().createSocket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                s.setEnabledProtocols(new String[] {"TLSv1.2"});
                s.setEnabledCipherSuites(new String[] {weak});
                org.assertj.core.api.Assertions.assertThatThrownBy(s::startHandshake).as("handshake offering only %s", weak)
                        .isInstanceOf(javax.net.ssl.SSLException.class);
            }
        }
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) TLS.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.setEnabledProtocols(new String[] {"TLSv1.2"});
            s.startHandshake();
            assertThat(s.getSession().getProtocol()).isEqualTo("TLSv1.2");
            assertThat(s.getSession().getCipherSuite()).startsWith("TLS_ECDHE_").containsAnyOf("_GCM_", "_CHACHA20_");
        }
    }

    @Test
    void implicitTlsWithLogin() {
        try (SmtpTranscript c = connect("submissions")) {
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).anyMatch(l -> l.endsWith("AUTH PLAIN LOGIN")).noneMatch(l -> l.contains("STARTTLS"));
            c.send("AUTH LOGIN");
            c.expect("334 VXNlcm5hbWU6");
            c.send(Base64.getEncoder().encodeToString("alice".getBytes(StandardCharsets.US_ASCII)));
            c.expect("334 UGFzc3dvcmQ6");
            c.send(Base64.getEncoder().encodeToString("correct horse".getBytes(StandardCharsets.US_ASCII)));
            c.expect("235 2.7.0");
            c.send("MAIL FROM:<alice@client.test>");
            c.expect("250");
        }
    }

    @Test
    void passwordsNeverReachTheLog() {
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("ROOT");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> log = new ch.qos.logback.core.read.ListAppender<>();
        log.start();
        root.addAppender(log);
        try {
            for (String password : List.of("correct horse", "Tr0ub4dor&3")) {
                try (SmtpTranscript c = connect("submissions")) {
                    c.send("EHLO client.test");
                    c.expect("250 ");
                    c.send("AUTH PLAIN " + plain("alice", password));
                    c.expect(password.equals("correct horse") ? "235" : "535");
                }
            }
        } finally {
            root.detachAppender(log);
            hazelcast.getMap(HazelcastClientGuard.MAP).clear();
        }
        assertThat(log.list).extracting(e -> e.getFormattedMessage())
                .anyMatch(m -> m.contains("sasl_username=alice"))
                .noneMatch(m -> m.contains("correct horse") || m.contains("Tr0ub4dor") || m.contains(plain("alice", "correct horse")));
    }

    @Test
    void repeatedAuthFailuresAreThrottledAcrossTheCluster() {
        for (int i = 0; i < 3; i++) {
            try (SmtpTranscript c = connect("submissions")) {
                c.send("EHLO client.test");
                c.expect("250 ");
                c.send("AUTH PLAIN " + plain("alice", "guess " + i));
                c.expect("535 5.7.8 Error: authentication failed");
            }
        }
        try (SmtpTranscript c = connect("submissions")) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("AUTH PLAIN " + plain("alice", "correct horse"));
            c.expect("421 4.7.0 Error: too many authentication failures");
            assertThat(c.isClosedByServer()).isTrue();
        }
        hazelcast.getMap(HazelcastClientGuard.MAP).clear();
    }

    @Test
    void chunkingCarriesBinarySafeContent() {
        String part1 = "Subject: chunks\r\n\r\nline with\r\n.\r\n";
        String part2 = "..and a dot line\r\n";
        try (SmtpTranscript c = connect("smtp")) {
            c.send("EHLO client.test");
            assertThat(c.expect("250 ")).contains("250-CHUNKING");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250");
            c.send("RCPT TO:<x@routed.test>");
            c.expect("250");
            c.sendRaw(("BDAT " + part1.length() + "\r\n" + part1).getBytes(StandardCharsets.US_ASCII));
            c.expect("250 2.0.0 Ok: " + part1.length() + " octets received");
            c.sendRaw(("BDAT " + part2.length() + " LAST\r\n" + part2).getBytes(StandardCharsets.US_ASCII));
            String reply = c.expect("250 2.0.0 Ok: queued as").get(0);
            assertThat(message(reply)).endsWith("\r\n" + part1 + part2);
            c.sendRaw("BDAT 5 LAST\r\nhello".getBytes(StandardCharsets.US_ASCII));
            c.expect("503 5.5.1 Error: need MAIL command");
            c.send("NOOP");
            c.expect("250");
        }
    }

    @Test
    void smugglingTerminatorsNeverEndTheData() {
        try (SmtpTranscript c = connect("smtp")) {
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("MAIL FROM:<a@client.test>");
            c.expect("250");
            c.send("RCPT TO:<x@routed.test>");
            c.expect("250");
            c.send("DATA");
            c.expect("354");
            c.sendRaw("Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<evil@x>\r\n".getBytes(StandardCharsets.US_ASCII));
            c.sendRaw("y\r\n.\nRCPT TO:<z@x>\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
            c.expect("550 5.5.2 Error: bare <LF> received");
            assertThat(c.isClosedByServer()).isTrue();
        }
    }

    @Test
    void refusesMailThatHasLoopedTooOften() {
        StringBuilder m = new StringBuilder();
        for (int i = 0; i < 51; i++) {
            m.append("Received: from hop").append(i).append(".test\r\n");
        }
        m.append("Subject: loop\r\n\r\nround and round\r\n");
        try (SmtpTranscript c = connect("smtp")) {
            c.send("EHLO client.test");
            c.expect("250 ");
            assertThat(c.sendMessage("a@client.test", List.of("x@routed.test"), m.toString()))
                    .startsWith("554 5.4.6 Error: too many hops");
        }
    }

    @Test
    void limitsConcurrentConnectionsPerClient() throws Exception {
        TestEdges t = new TestEdges(kafka.bootstrapServers(), topics);
        t.maxConnectionsPerClient = 2;
        try (EdgeReceiver limited = t.start(ClientGuard.NONE)) {
            int port = limited.smtpAddress().getPort();
            try (SmtpTranscript a = SmtpTranscript.connect("127.0.0.1", port);
                    SmtpTranscript b = SmtpTranscript.connect("127.0.0.1", port);
                    SmtpTranscript third = SmtpTranscript.connect("127.0.0.1", port)) {
                // Connections are admitted on several event loops, so which of the three is refused may vary.
                List<String> greetings = List.of(a.readReply().get(0), b.readReply().get(0), third.readReply().get(0));
                assertThat(greetings).filteredOn(g -> g.startsWith("220")).hasSize(2);
                assertThat(greetings).filteredOn(g -> g.equals("421 4.7.0 Error: too many connections from your address"))
                        .hasSize(1);
            }
        }
    }

    @Test
    void limitsTheConnectionRateAcrossTheCluster() throws Exception {
        TestEdges t = new TestEdges(kafka.bootstrapServers(), topics);
        // A second edge sharing the same Hazelcast counters: the limit is the cluster's, not each edge's.
        HazelcastClientGuard guard = new HazelcastClientGuard(hazelcast, 3, 0, Duration.ofMinutes(10), Clock.systemUTC());
        try (EdgeReceiver one = t.start(guard); EdgeReceiver two = new TestEdges(kafka.bootstrapServers(), topics).start(guard)) {
            for (EdgeReceiver e : List.of(one, two, one)) {
                try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", e.smtpAddress().getPort())) {
                    c.expect("220");
                }
            }
            try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", two.smtpAddress().getPort())) {
                c.expect("421 4.7.0 Error: too many connections from your address in a short time");
            }
        } finally {
            hazelcast.getMap(HazelcastClientGuard.MAP).clear();
        }
    }
}
