package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Stream;
import net.mailrelay.edge.auth.UsersFile;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Interoperability with a real client library: Jakarta Mail (Eclipse Angus) submits over STARTTLS on the
 * submission listener (RFC 6409, RFC 3207) and over implicit TLS on the submissions listener (RFC 8314),
 * authenticating with AUTH (RFC 4954), to an edge that publishes to a real broker.
 */
@ExtendWith(KafkaFixture.class)
class AngusMailInteropTest {

    static final String PASSWORD = "correct horse";

    @RegisterExtension
    static final SubmissionEdge EDGE = new SubmissionEdge();

    /** The edge with its submission listeners, a users file and a reader of its outbound topic, for the class. */
    static final class SubmissionEdge implements BeforeAllCallback, AfterAllCallback {
        private Path dir;
        private EdgeReceiver edge;
        private TopicReader outbound;

        @Override
        public void beforeAll(ExtensionContext context) throws Exception {
            KafkaBroker broker = KafkaFixture.broker(context);
            Topics topics = broker.freshTopics(List.of());
            dir = Files.createTempDirectory("angus-interop");
            Path users = dir.resolve("users");
            UsersFile.add(users, "alice", PASSWORD.toCharArray());
            TestEdges t = new TestEdges(broker.bootstrapServers(), topics)
                    .listen(ListenerPolicy.forSubmission()).listen(ListenerPolicy.forSubmissions());
            t.usersFile = users;
            edge = t.start(ClientGuard.NONE);
            outbound = new TopicReader(broker, topics.outbound());
        }

        @Override
        public void afterAll(ExtensionContext context) throws IOException {
            if (outbound != null) {
                outbound.close();
            }
            if (edge != null) {
                edge.close();
            }
            if (dir != null) {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }

        int port(String listener) {
            return edge.address(listener).getPort();
        }

        /** The envelope and content the edge published for the message with this subject. */
        RecordCodec.Decoded<Envelope> published(String subject) {
            ConsumerRecord<String, byte[]> r = outbound.awaitAny(x -> content(x).contains("Subject: " + subject), Duration.ofSeconds(30))
                    .stream().filter(x -> content(x).contains("Subject: " + subject)).findFirst().orElseThrow();
            return RecordCodec.decode(r.value(), Envelope.class);
        }

        private static String content(ConsumerRecord<String, byte[]> r) {
            return new String(RecordCodec.decode(r.value(), Envelope.class).messageCopy(), StandardCharsets.UTF_8);
        }
    }

    /** Submission on 587-style port: plaintext first, then STARTTLS (required), then AUTH. */
    static Session startTlsSession() {
        Properties p = common(EDGE.port("submission"));
        p.put("mail.smtp.starttls.enable", "true");
        p.put("mail.smtp.starttls.required", "true");
        return Session.getInstance(p);
    }

    /** Submissions on 465-style port: TLS from the first byte. */
    static Session implicitTlsSession() {
        Properties p = common(EDGE.port("submissions"));
        p.put("mail.smtp.ssl.enable", "true");
        return Session.getInstance(p);
    }

    private static Properties common(int port) {
        Properties p = new Properties();
        String k = "mail.smtp.";
        p.put(k + "host", "127.0.0.1");
        p.put(k + "port", Integer.toString(port));
        p.put(k + "auth", "true");
        p.put(k + "localhost", "client.test");
        // The edge's certificate is self-signed for relay.test; trust it, and do not match it against 127.0.0.1.
        p.put(k + "ssl.trust", "*");
        p.put(k + "ssl.checkserveridentity", "false");
        p.put(k + "connectiontimeout", "10000");
        p.put(k + "timeout", "30000");
        return p;
    }

    static MimeMessage message(Session session, String subject) throws MessagingException {
        MimeMessage m = new MimeMessage(session);
        m.setFrom(new InternetAddress("alice@client.test"));
        m.setRecipient(Message.RecipientType.TO, new InternetAddress("someone@far-away.test"));
        m.setSubject(subject);
        m.setText("Sent by Jakarta Mail.\r\n.\r\n..a line that needs dot-stuffing\r\n", "UTF-8");
        return m;
    }

    private static void assertPublished(String subject, String protocol) {
        RecordCodec.Decoded<Envelope> d = EDGE.published(subject);
        assertThat(d.metadata().authenticatedAs()).isEqualTo("alice");
        assertThat(d.metadata().reversePath()).isEqualTo("alice@client.test");
        assertThat(d.metadata().recipients()).extracting(r -> r.address()).containsExactly("someone@far-away.test");
        String content = new String(d.messageCopy(), StandardCharsets.UTF_8);
        assertThat(content).contains("with " + protocol + " id ").contains("\r\nSubject: " + subject + "\r\n")
                .contains("\r\n.\r\n..a line that needs dot-stuffing\r\n");
    }

    @Test
    void submitsOverStartTlsWithAuth() throws MessagingException {
        String subject = "interop starttls " + UUID.randomUUID();
        Session session = startTlsSession();
        Transport.send(message(session, subject), "alice", PASSWORD);
        assertPublished(subject, "ESMTPSA");
    }

    @Test
    void submitsOverImplicitTlsWithAuth() throws MessagingException {
        String subject = "interop smtps " + UUID.randomUUID();
        Session session = implicitTlsSession();
        Transport.send(message(session, subject), "alice", PASSWORD);
        assertPublished(subject, "ESMTPSA");
    }

    @Test
    void wrongPasswordFailsAuthenticationOverStartTls() throws MessagingException {
        Session session = startTlsSession();
        MimeMessage m = message(session, "never sent");
        assertThatThrownBy(() -> Transport.send(m, "alice", "wrong horse"))
                .isInstanceOf(AuthenticationFailedException.class);
    }

    @Test
    void wrongPasswordFailsAuthenticationOverImplicitTls() throws MessagingException {
        Session session = implicitTlsSession();
        MimeMessage m = message(session, "never sent either");
        assertThatThrownBy(() -> Transport.send(m, "alice", "wrong horse"))
                .isInstanceOf(AuthenticationFailedException.class);
    }

    @Test
    void withoutStartTlsTheClientCannotAuthenticateAndIsRefused() throws MessagingException {
        // AUTH is never offered in plaintext, so a client that does not use STARTTLS finds no AUTH to use,
        // goes on unauthenticated, and the submission listener refuses its MAIL with 530 5.7.0.
        Properties p = common(EDGE.port("submission"));
        Session session = Session.getInstance(p);
        MimeMessage m = message(session, "plaintext attempt");
        assertThatThrownBy(() -> Transport.send(m, "alice", PASSWORD)).isInstanceOf(MessagingException.class)
                .hasMessageContaining("530 5.7.0");
    }
}
