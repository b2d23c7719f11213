package net.mailrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import net.mailrelay.testing.FakeMx.Mode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Each failure mode and extension of {@link FakeMx}, driven by a real client over a real socket. */
class FakeMxTest {

    private static final String MESSAGE = "Subject: hi\r\n\r\nhello\r\n";

    @RegisterExtension
    final FakeMx mx = new FakeMx("mx.fake.test");

    @Test
    void normalModeDeliversOverPlaintextAndKeepsMagicRecipients() {
        try (SmtpTranscript t = connect()) {
            t.expect("220 mx.fake.test");
            List<String> ehlo = t.send("EHLO client.test").expect("250 ENHANCEDSTATUSCODES");
            assertThat(ehlo).contains("250-PIPELINING", "250-8BITMIME", "250-SMTPUTF8")
                    .noneMatch(l -> l.contains("STARTTLS") || l.contains("SIZE") || l.contains("AUTH"));
            t.send("MAIL FROM:<a@client.test>").expect("250 2.1.0");
            t.send("RCPT TO:<permfail@x.test>").expect("550 5.1.1");
            t.send("RCPT TO:<tempfail@x.test>").expect("451 4.3.0");
            t.send("RCPT TO:<bob@x.test>").expect("250 2.1.5");
            t.send("DATA").expect("354");
            t.sendRaw(MESSAGE.getBytes(StandardCharsets.UTF_8)).send(".").expect("250 2.0.0");
            t.send("QUIT").expect("221");
        }
        FakeMx.Delivery d = mx.deliveriesTo("bob@x.test").get(0);
        assertThat(d.heloName()).isEqualTo("client.test");
        assertThat(d.mailFrom()).isEqualTo("a@client.test");
        assertThat(d.recipients()).containsExactly("bob@x.test");
        assertThat(d.text()).isEqualTo(MESSAGE);
        assertThat(d.tls()).isNull();
        assertThat(d.authUser()).isNull();
        assertThat(mx.tlsProtocolSeen()).isNull();
    }

    @Test
    void dropAtConnectClosesWithoutAByte() {
        mx.mode(Mode.DROP_AT_CONNECT);
        try (SmtpTranscript t = connect()) {
            assertThat(t.isClosedByServer()).isTrue();
        }
        assertThat(mx.connectionCount()).isEqualTo(1);
        assertThat(mx.transactionsPerConnection()).containsExactly(0);
    }

    @Test
    void greet421ClosesAfterTheGreeting() {
        mx.mode(Mode.GREET_421);
        try (SmtpTranscript t = connect()) {
            t.expect("421 4.3.2 Service shutting down");
            assertThat(t.isClosedByServer()).isTrue();
        }
    }

    @Test
    void greet554AnswersOnlyQuit() {
        mx.mode(Mode.GREET_554);
        try (SmtpTranscript t = connect()) {
            t.expect("554 5.7.1");
            t.send("EHLO client.test").expect("503 5.5.1");
            t.send("MAIL FROM:<a@client.test>").expect("503 5.5.1");
            t.send("QUIT").expect("221 2.0.0");
            assertThat(t.isClosedByServer()).isTrue();
        }
    }

    @Test
    void noEhloRefusesEhloButTakesMailAfterHelo() {
        mx.mode(Mode.NO_EHLO);
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            t.send("EHLO client.test").expect("502 5.5.2 Error: command not recognized");
            t.send("HELO client.test").expect("250 mx.fake.test");
            assertThat(t.sendMessage("a@client.test", List.of("bob@x.test"), MESSAGE)).startsWith("250 2.0.0");
        }
        assertThat(mx.deliveries()).singleElement().extracting(FakeMx.Delivery::heloName).isEqualTo("client.test");
    }

    @Test
    void stallAfterGreetingNeverAnswers() throws IOException {
        mx.mode(Mode.STALL_AFTER_GREETING);
        try (RawClient c = new RawClient(mx)) {
            assertThat(c.reply()).startsWith("220 ");
            c.send("EHLO client.test");
            c.assertNoReply();
        }
    }

    @Test
    void stallAfterDataReadsTheMessageButNeverAnswersTheDot() throws IOException {
        mx.mode(Mode.STALL_AFTER_DATA);
        try (RawClient c = new RawClient(mx)) {
            assertThat(c.reply()).startsWith("220 ");
            assertThat(c.send("EHLO client.test").reply()).startsWith("250 ");
            assertThat(c.send("MAIL FROM:<a@client.test>").reply()).startsWith("250 2.1.0");
            assertThat(c.send("RCPT TO:<bob@x.test>").reply()).startsWith("250 2.1.5");
            assertThat(c.send("DATA").reply()).startsWith("354");
            c.send(MESSAGE + ".");
            c.assertNoReply();
        }
        assertThat(mx.deliveries()).isEmpty();
    }

    @Test
    void disconnectDuringDataClosesAfterSomeContent() {
        mx.mode(Mode.DISCONNECT_DURING_DATA);
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            t.send("EHLO client.test").expect("250");
            t.send("MAIL FROM:<a@client.test>").expect("250");
            t.send("RCPT TO:<bob@x.test>").expect("250");
            t.send("DATA").expect("354");
            t.send("Subject: cut short");
            assertThat(t.isClosedByServer()).isTrue();
        }
        assertThat(mx.deliveries()).isEmpty();
    }

    @Test
    void brokenTlsFailsTheClientHandshake() {
        mx.mode(Mode.BROKEN_TLS);
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250")).contains("250-STARTTLS");
            t.send("STARTTLS").expect("220 2.0.0 Ready");
            assertThatThrownBy(() -> t.startTls(SmtpTranscript.trustingTls()))
                    .isInstanceOf(UncheckedIOException.class).hasCauseInstanceOf(SSLException.class);
        }
        assertThat(mx.tlsProtocolSeen()).isNull();
    }

    @Test
    void startTlsUpgradesTheConversationAndIsNotOfferedTwice() {
        mx.startTls(true);
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250")).contains("250-STARTTLS");
            t.send("STARTTLS").expect("220 2.0.0 Ready to start TLS");
            t.startTls(SmtpTranscript.trustingTls());
            assertThat(t.send("EHLO client.test").expect("250")).noneMatch(l -> l.contains("STARTTLS"));
            t.send("STARTTLS").expect("554 5.5.1");
            assertThat(t.sendMessage("a@client.test", List.of("bob@x.test"), MESSAGE)).startsWith("250 2.0.0");
            t.send("QUIT").expect("221");
            assertThat(mx.deliveries()).singleElement().extracting(FakeMx.Delivery::tls)
                    .isEqualTo(t.tlsProtocol()).isIn("TLSv1.3", "TLSv1.2");
        }
        assertThat(mx.tlsProtocolSeen()).isIn("TLSv1.3", "TLSv1.2");
    }

    @Test
    void certificateNamesTheServerAndIsTheOnlyOneATrustStoreNeeds() throws Exception {
        X509Certificate cert = mx.certificate();
        assertThat(cert).isSameAs(FakeMx.certificateFor("mx.fake.test"));
        assertThat(cert.getSubjectAlternativeNames().stream().map(n -> String.valueOf(n.get(1))))
                .containsExactlyInAnyOrder("mx.fake.test", "localhost", "127.0.0.1");
        mx.startTls(true);

        try (SmtpTranscript t = upgradeReady()) {
            t.startTls(trusting(cert));
            t.send("EHLO client.test").expect("250");
        }
        try (SmtpTranscript t = upgradeReady()) {
            assertThatThrownBy(() -> t.startTls(trusting(FakeMx.certificateFor("other.fake.test"))))
                    .isInstanceOf(UncheckedIOException.class).hasCauseInstanceOf(SSLException.class);
        }
    }

    @Test
    void sizeLimitIsOfferedAndEnforcedAtMail() {
        mx.sizeLimit(1000);
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250")).contains("250-SIZE 1000");
            t.send("MAIL FROM:<a@client.test> SIZE=2000").expect("552 5.3.4");
            t.send("MAIL FROM:<a@client.test> SIZE=500").expect("250 2.1.0");
        }
    }

    @Test
    void pipelinedCommandsAreAnsweredInOrder() {
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250")).contains("250-PIPELINING");
            t.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<bob@x.test>\r\nRCPT TO:<permfail@x.test>\r\nDATA");
            t.expect("250 2.1.0");
            t.expect("250 2.1.5");
            t.expect("550 5.1.1");
            t.expect("354");
            t.sendRaw(MESSAGE.getBytes(StandardCharsets.UTF_8)).send(".").expect("250 2.0.0");
        }
        assertThat(mx.deliveries()).singleElement().extracting(FakeMx.Delivery::recipients)
                .isEqualTo(List.of("bob@x.test"));
        assertThat(mx.pipeliningViolations()).isZero();
    }

    @Test
    void switchedOffExtensionsAreNotOfferedAndTheirParametersRefused() {
        mx.pipelining(false).eightBitMime(false).smtpUtf8(false);
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250"))
                    .noneMatch(l -> l.contains("PIPELINING") || l.contains("8BITMIME") || l.contains("SMTPUTF8"));
            t.send("MAIL FROM:<a@client.test> BODY=8BITMIME").expect("555 5.5.4");
            t.send("MAIL FROM:<a@client.test> SMTPUTF8").expect("555 5.5.4");
            assertThat(mx.pipeliningViolations()).isZero();
            t.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<bob@x.test>");
            t.expect("250 2.1.0");
            t.expect("250 2.1.5");
        }
        assertThat(mx.pipeliningViolations()).isEqualTo(1);
    }

    @Test
    void authPlainWithAndWithoutInitialResponse() {
        mx.auth("user", "secret");
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250")).contains("250-AUTH PLAIN LOGIN");
            t.send("MAIL FROM:<a@client.test>").expect("530 5.7.0");
            t.send("AUTH PLAIN " + plain("user", "wrong")).expect("535 5.7.8");
            t.send("AUTH PLAIN").expect("334");
            t.send(plain("user", "secret")).expect("235 2.7.0");
            assertThat(t.sendMessage("a@client.test", List.of("bob@x.test"), MESSAGE)).startsWith("250 2.0.0");
        }
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            t.send("EHLO client.test").expect("250");
            t.send("AUTH PLAIN " + plain("user", "secret")).expect("235 2.7.0");
        }
        assertThat(mx.deliveries()).singleElement().extracting(FakeMx.Delivery::authUser).isEqualTo("user");
    }

    @Test
    void authIsOfferedOnlyAfterStartTlsWhenTlsIsOn() {
        mx.startTls(true).auth("user", "secret");
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            assertThat(t.send("EHLO client.test").expect("250")).noneMatch(l -> l.contains("AUTH"));
            t.send("AUTH PLAIN " + plain("user", "secret")).expect("538 5.7.11");
            t.send("STARTTLS").expect("220");
            t.startTls(SmtpTranscript.trustingTls());
            assertThat(t.send("EHLO client.test").expect("250")).contains("250-AUTH PLAIN LOGIN");
            t.send("AUTH LOGIN").expect("334 VXNlcm5hbWU6");
            t.send(base64("user")).expect("334 UGFzc3dvcmQ6");
            t.send(base64("secret")).expect("235 2.7.0");
        }
    }

    @Test
    void oneConnectionCarriesSeveralMessagesWithRsetBetween() {
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            t.send("EHLO client.test").expect("250");
            assertThat(t.sendMessage("a@client.test", List.of("bob@x.test"), MESSAGE)).startsWith("250 2.0.0");
            t.send("RSET").expect("250 2.0.0 Ok");
            assertThat(t.sendMessage("a@client.test", List.of("carol@x.test"), MESSAGE)).startsWith("250 2.0.0");
            t.send("QUIT").expect("221");
        }
        assertThat(mx.connectionCount()).isEqualTo(1);
        assertThat(mx.transactionsPerConnection()).containsExactly(2);
    }

    @Test
    void disconnectInRcptHangsUpWithoutAReply() {
        try (SmtpTranscript t = connect()) {
            t.expect("220");
            t.send("EHLO client.test").expect("250");
            t.send("MAIL FROM:<a@client.test>").expect("250");
            t.send("RCPT TO:<disconnect-in-rcpt@x.test>");
            assertThat(t.isClosedByServer()).isTrue();
        }
        assertThat(mx.timesOffered("disconnect-in-rcpt@x.test")).isEqualTo(1);
    }

    @Test
    void aModeChangeLeavesOpenConnectionsAlone() {
        try (SmtpTranscript before = connect()) {
            before.expect("220 mx.fake.test"); // greeted, so this connection has taken its settings
            mx.mode(Mode.GREET_421);
            try (SmtpTranscript after = connect()) {
                after.expect("421 4.3.2");
            }
            before.send("EHLO client.test").expect("250");
        }
        assertThat(mx.transactionsPerConnection()).containsExactly(0, 0);
    }

    private SmtpTranscript connect() {
        return SmtpTranscript.connect(host(mx), mx.port());
    }

    /** Connected, greeted, EHLO said and STARTTLS answered: ready for the client's handshake. */
    private SmtpTranscript upgradeReady() {
        SmtpTranscript t = connect();
        t.expect("220");
        t.send("EHLO client.test").expect("250");
        t.send("STARTTLS").expect("220");
        return t;
    }

    private static String host(FakeMx mx) {
        return mx.hostPort().substring(0, mx.hostPort().lastIndexOf(':'));
    }

    private static SSLContext trusting(X509Certificate only) {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setCertificateEntry("mx", only);
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String plain(String user, String password) {
        return base64("\0" + user + "\0" + password);
    }

    private static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A bare client with a short read timeout, to observe that a stalling server says nothing. */
    private static final class RawClient implements AutoCloseable {

        private static final int SILENCE_MILLIS = 300;

        private final Socket socket = new Socket();
        private final InputStream in;

        RawClient(FakeMx mx) throws IOException {
            socket.connect(new InetSocketAddress(host(mx), mx.port()), 5_000);
            socket.setSoTimeout(5_000);
            in = new BufferedInputStream(socket.getInputStream());
        }

        RawClient send(String text) throws IOException {
            socket.getOutputStream().write((text + "\r\n").getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            return this;
        }

        /** The last line of one reply. */
        String reply() throws IOException {
            while (true) {
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                int c;
                while ((c = in.read()) != '\n') {
                    if (c == -1) {
                        throw new AssertionError("connection closed before a reply");
                    }
                    line.write(c);
                }
                String text = line.toString(StandardCharsets.UTF_8).stripTrailing();
                if (text.length() < 4 || text.charAt(3) != '-') {
                    return text;
                }
            }
        }

        void assertNoReply() throws IOException {
            socket.setSoTimeout(SILENCE_MILLIS);
            assertThatThrownBy(in::read).isInstanceOf(SocketTimeoutException.class);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
