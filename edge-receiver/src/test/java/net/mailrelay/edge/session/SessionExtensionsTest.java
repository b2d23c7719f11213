package net.mailrelay.edge.session;

import static net.mailrelay.edge.session.SmtpSessionTest.CLOCK;
import static net.mailrelay.edge.session.SmtpSessionTest.PLAIN;
import static net.mailrelay.edge.session.SmtpSessionTest.reply;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.policy.RelayPolicy;
import org.junit.jupiter.api.Test;

/** STARTTLS, AUTH, CHUNKING, loop detection, submission and bare-LF policy, without sockets. */
class SessionExtensionsTest {

    static SessionSettings settings(ListenerPolicy listener, BareLineFeeds bareLf) {
        return new SessionSettings("relay.test", listener, 1000, 100, 20, 3, bareLf,
                new RelayPolicy(List.of(Cidr.parse("10.0.0.0/8")), Set.of("local.test")));
    }

    static SmtpSession session(ListenerPolicy listener) throws Exception {
        return new SmtpSession(settings(listener, BareLineFeeds.REJECT), InetAddress.getByName("192.0.2.9"), CLOCK);
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void startTlsResetsTheSessionAndIsOfferedOnlyOnce() throws Exception {
        SmtpSession s = session(ListenerPolicy.forMx(true));
        assertThat(reply(s.command("EHLO c.test"))).contains("STARTTLS").doesNotContain("AUTH");
        assertThat(reply(s.command("STARTTLS now"))).startsWith("501 5.5.4");
        assertThat(reply(s.command("STARTTLS"))).isEqualTo("220 2.0.0 Ready to start TLS");
        assertThat(s.state()).isEqualTo(SessionState.STARTING_TLS);
        s.tlsEstablished("TLSv1.3 TLS_AES_128_GCM_SHA256");
        assertThat(s.state()).isEqualTo(SessionState.CONNECTED);
        assertThat(reply(s.command("MAIL FROM:<a@c.test>"))).startsWith("503 5.5.1 Error: send HELO/EHLO first");
        assertThat(reply(s.command("EHLO c.test"))).doesNotContain("STARTTLS");
        assertThat(reply(s.command("STARTTLS"))).startsWith("554 5.5.1 Error: TLS already active");
    }

    @Test
    void startTlsIsRefusedInsideATransactionAndWhereNotOffered() throws Exception {
        SmtpSession s = session(ListenerPolicy.forMx(true));
        s.command("EHLO c.test");
        s.command("MAIL FROM:<a@c.test>");
        assertThat(reply(s.command("STARTTLS"))).startsWith("503 5.5.1 Error: MAIL transaction in progress");
        SmtpSession plain = session(ListenerPolicy.forMx(false));
        plain.command("EHLO c.test");
        assertThat(reply(plain.command("STARTTLS"))).startsWith("502 5.5.1");
    }

    @Test
    void submissionNeedsTlsThenAuthBeforeMail() throws Exception {
        SmtpSession s = session(ListenerPolicy.forSubmission());
        assertThat(reply(s.command("EHLO c.test"))).contains("STARTTLS").doesNotContain("AUTH");
        assertThat(reply(s.command("AUTH PLAIN " + b64("\0u\0p")))).startsWith("503 5.5.1 Error: authentication not enabled");
        assertThat(reply(s.command("MAIL FROM:<a@c.test>"))).startsWith("530 5.7.0 Authentication required");
        s.command("STARTTLS");
        s.tlsEstablished("TLSv1.3");
        assertThat(reply(s.command("EHLO c.test"))).contains("AUTH PLAIN LOGIN");
        Step step = s.command("AUTH PLAIN " + b64("\0alice\0secret"));
        assertThat(step).isInstanceOf(Step.Authenticate.class);
        Step.Authenticate a = (Step.Authenticate) step;
        assertThat(a.user()).isEqualTo("alice");
        assertThat(new String(a.password())).isEqualTo("secret");
        assertThat(a.toString()).doesNotContain("secret");
        assertThat(reply(s.authenticated(AuthOutcome.ACCEPTED))).isEqualTo("235 2.7.0 Authentication successful");
        assertThat(reply(s.command("EHLO c.test"))).doesNotContain("AUTH");
        assertThat(reply(s.command("MAIL FROM:<alice@c.test>"))).startsWith("250");
        // Authenticated clients may relay anywhere.
        assertThat(reply(s.command("RCPT TO:<x@far.test>"))).startsWith("250");
        s.command("DATA");
        Step.Publish p = (Step.Publish) s.endOfData(10, new MessageFacts(0, false, false, 0));
        assertThat(p.envelope().authenticatedAs()).isEqualTo("alice");
        String added = new String(p.traceHeader(), StandardCharsets.US_ASCII);
        assertThat(added).contains("with ESMTPSA id").contains("Message-ID: <" + p.envelope().queueId() + "@relay.test>")
                .contains("Date: Sat, 28 Nov 2026 17:51:02 GMT");
    }

    @Test
    void loginMechanismAndFailures() throws Exception {
        SmtpSession s = tlsSubmission();
        assertThat(reply(s.command("AUTH LOGIN"))).isEqualTo("334 VXNlcm5hbWU6");
        assertThat(reply(s.command(b64("bob")))).isEqualTo("334 UGFzc3dvcmQ6");
        Step.Authenticate a = (Step.Authenticate) s.command(b64("wrong"));
        assertThat(a.user()).isEqualTo("bob");
        assertThat(reply(s.authenticated(AuthOutcome.REJECTED))).isEqualTo("535 5.7.8 Error: authentication failed");
        assertThat(reply(s.command("AUTH LOGIN"))).startsWith("334");
        assertThat(reply(s.command("*"))).isEqualTo("501 5.7.0 Authentication aborted");
        assertThat(reply(s.command("AUTH PLAIN"))).isEqualTo("334 ");
        assertThat(reply(s.command("not base64!"))).startsWith("501 5.5.2 Cannot decode response");
        assertThat(reply(s.command("AUTH CRAM-MD5"))).startsWith("504 5.5.4");
        assertThat(reply(s.command("AUTH PLAIN " + b64("someone\0bob\0pw")))).startsWith("535 5.7.8");
        s.command("AUTH PLAIN " + b64("\0bob\0pw"));
        assertThat(reply(s.authenticated(AuthOutcome.THROTTLED))).startsWith("CLOSE 421 4.7.0");
    }

    private SmtpSession tlsSubmission() throws Exception {
        SmtpSession s = session(ListenerPolicy.forSubmissions());
        s.tlsEstablished("TLSv1.3");
        s.command("EHLO c.test");
        return s;
    }

    @Test
    void chunkingReceivesAMessageInBdatChunks() throws Exception {
        SmtpSession s = session(ListenerPolicy.forMx(false));
        s.command("EHLO c.test");
        s.command("MAIL FROM:<a@c.test>");
        s.command("RCPT TO:<b@local.test>");
        Step first = s.command("BDAT 5");
        assertThat(first).isEqualTo(new Step.ReceiveChunk(5, true));
        assertThat(reply(s.chunkEnded(5, PLAIN))).isEqualTo("250 2.0.0 Ok: 5 octets received");
        assertThat(s.state()).isEqualTo(SessionState.CHUNKING);
        assertThat(reply(s.command("DATA"))).startsWith("503 5.5.1 Error: BDAT transfer in progress");
        assertThat(s.command("BDAT 3 LAST")).isEqualTo(new Step.ReceiveChunk(3, false));
        assertThat(s.chunkEnded(8, PLAIN)).isInstanceOf(Step.Publish.class);
    }

    @Test
    void outOfSequenceChunksAreReadAndDropped() throws Exception {
        SmtpSession s = session(ListenerPolicy.forMx(false));
        s.command("EHLO c.test");
        Step step = s.command("BDAT 100 LAST");
        assertThat(step).isInstanceOf(Step.DiscardChunk.class);
        assertThat(((Step.DiscardChunk) step).octets()).isEqualTo(100);
        assertThat(reply(step)).startsWith("503 5.5.1 Error: need MAIL command");
        assertThat(reply(s.command("BDAT twelve"))).startsWith("CLOSE 501 5.5.4 Syntax: BDAT count [LAST]");
    }

    @Test
    void refusesLoopsOverlongMessagesAndBareLineFeeds() throws Exception {
        SmtpSession s = session(ListenerPolicy.forMx(false));
        s.command("EHLO c.test");
        s.command("MAIL FROM:<a@c.test>");
        s.command("RCPT TO:<b@local.test>");
        s.command("DATA");
        assertThat(reply(s.endOfData(10, new MessageFacts(4, true, true, 0)))).startsWith("554 5.4.6");
        s.command("MAIL FROM:<a@c.test>");
        s.command("RCPT TO:<b@local.test>");
        s.command("DATA");
        assertThat(reply(s.endOfData(10, new MessageFacts(3, true, true, 1))))
                .isEqualTo("CLOSE 550 5.5.2 Error: bare <LF> received");

        SmtpSession lenient = new SmtpSession(settings(ListenerPolicy.forMx(false), BareLineFeeds.NORMALIZE),
                InetAddress.getByName("192.0.2.9"), CLOCK);
        lenient.command("EHLO c.test");
        lenient.command("MAIL FROM:<a@c.test>");
        lenient.command("RCPT TO:<b@local.test>");
        lenient.command("DATA");
        assertThat(lenient.endOfData(10, new MessageFacts(0, true, true, 2))).isInstanceOf(Step.Publish.class);
    }

    @Test
    void scansHeaderFacts() {
        String m = "Received: a\r\nreceived: b\r\n c\r\nMessage-Id: <x@y>\r\nSubject: s\r\n\r\nReceived: in body\r\nDate: no\r\n";
        MessageFacts f = MessageFacts.scan(ByteBuffer.wrap(m.getBytes(StandardCharsets.US_ASCII)), 0);
        assertThat(f.receivedHeaders()).isEqualTo(2);
        assertThat(f.hasMessageId()).isTrue();
        assertThat(f.hasDate()).isFalse();
    }
}
