package net.mailrelay.delivery.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import net.mailrelay.protocol.envelope.BodyType;
import org.junit.jupiter.api.Test;

class ClientSessionTest {

    static RemoteReply r(int code, String... lines) {
        return new RemoteReply(code, Arrays.asList(lines));
    }

    static ClientSession session(TlsPolicy tls, Credentials creds) {
        return new ClientSession(new ConnectionSpec("relay.test", tls, creds), "mx.test", "192.0.2.1:25");
    }

    static ClientSession.Transaction tx(BodyType body, boolean utf8, String... rcpts) {
        return new ClientSession.Transaction("a@b.test", List.of(rcpts), body, utf8, 1234);
    }

    static String act(ClientSession.Action a) {
        if (a instanceof ClientSession.Action.Send s) {
            return String.join(" | ", s.commands());
        }
        return a.getClass().getSimpleName();
    }

    /** Greeting and EHLO answered with these extensions. */
    static ClientSession ready(ClientSession s, String... extensions) {
        assertThat(act(s.onReply(r(220, "mx.test ESMTP")))).isEqualTo("EHLO relay.test");
        String[] lines = new String[extensions.length + 1];
        lines[0] = "mx.test";
        System.arraycopy(extensions, 0, lines, 1, extensions.length);
        assertThat(act(s.onReply(r(250, lines)))).isEqualTo("Ready");
        return s;
    }

    @Test
    void runsATransactionCommandByCommandWithoutPipelining() {
        ClientSession s = ready(session(TlsPolicy.NONE, null), "8BITMIME", "SIZE 100000");
        assertThat(act(s.begin(tx(BodyType.EIGHT_BIT_MIME, false, "x@c.test", "y@c.test"))))
                .isEqualTo("MAIL FROM:<a@b.test> SIZE=1234 BODY=8BITMIME");
        assertThat(act(s.onReply(r(250, "2.1.0 Ok")))).isEqualTo("RCPT TO:<x@c.test>");
        assertThat(act(s.onReply(r(550, "5.1.1 no such user")))).isEqualTo("RCPT TO:<y@c.test>");
        assertThat(act(s.onReply(r(250, "2.1.5 Ok")))).isEqualTo("DATA");
        assertThat(act(s.onReply(r(354, "go ahead")))).isEqualTo("SendMessage");
        ClientSession.Action done = s.onReply(r(250, "2.0.0 Ok: queued as X"));
        SessionReport report = ((ClientSession.Action.TransactionDone) done).report();
        assertThat(report.endedAt()).isEqualTo(Stage.DONE);
        assertThat(report.recipientReplies().get("x@c.test").code()).isEqualTo(550);
        assertThat(report.finalReply().code()).isEqualTo(250);
        assertThat(s.isReady()).isTrue();
        // The next transaction on the same connection starts with RSET.
        assertThat(act(s.begin(tx(BodyType.SEVEN_BIT, false, "z@c.test")))).isEqualTo("RSET");
        assertThat(act(s.onReply(r(250, "2.0.0 Ok")))).isEqualTo("MAIL FROM:<a@b.test> SIZE=1234");
    }

    @Test
    void pipelinesWhenOffered() {
        ClientSession s = ready(session(TlsPolicy.NONE, null), "PIPELINING");
        assertThat(act(s.begin(tx(BodyType.SEVEN_BIT, false, "x@c.test", "y@c.test"))))
                .isEqualTo("MAIL FROM:<a@b.test> | RCPT TO:<x@c.test> | RCPT TO:<y@c.test> | DATA");
        assertThat(act(s.onReply(r(250, "ok")))).isEqualTo("");
        assertThat(act(s.onReply(r(451, "4.3.0 later")))).isEqualTo("");
        assertThat(act(s.onReply(r(250, "ok")))).isEqualTo("");
        assertThat(s.onReply(r(354, "go"))).isEqualTo(new ClientSession.Action.SendMessage(false));
        SessionReport report = ((ClientSession.Action.TransactionDone) s.onReply(r(250, "queued"))).report();
        assertThat(report.recipientReplies()).containsKeys("x@c.test", "y@c.test");
        assertThat(report.finalReply().code()).isEqualTo(250);
    }

    @Test
    void pipelinedDataAfterEveryRecipientFailedSendsAnEmptyMessage() {
        ClientSession s = ready(session(TlsPolicy.NONE, null), "PIPELINING");
        s.begin(tx(BodyType.SEVEN_BIT, false, "x@c.test"));
        s.onReply(r(250, "ok"));
        s.onReply(r(550, "5.1.1 no"));
        assertThat(s.onReply(r(354, "go"))).isEqualTo(new ClientSession.Action.SendMessage(true));
        SessionReport report = ((ClientSession.Action.TransactionDone) s.onReply(r(250, "empty"))).report();
        assertThat(report.recipientReplies().get("x@c.test").code()).isEqualTo(550);
    }

    @Test
    void pipelinedMailRefusalDecidesEveryRecipient() {
        ClientSession s = ready(session(TlsPolicy.NONE, null), "PIPELINING");
        s.begin(tx(BodyType.SEVEN_BIT, false, "x@c.test"));
        s.onReply(r(553, "5.1.8 sender rejected"));
        s.onReply(r(503, "5.5.1 need MAIL"));
        SessionReport report = ((ClientSession.Action.TransactionDone) s.onReply(r(503, "5.5.1 need RCPT"))).report();
        assertThat(report.endedAt()).isEqualTo(Stage.MAIL);
        assertThat(report.endingReply().code()).isEqualTo(553);
    }

    @Test
    void fallsBackToHeloWhenEhloIsUnknown() {
        ClientSession s = session(TlsPolicy.OPPORTUNISTIC, null);
        s.onReply(r(220, "old"));
        assertThat(act(s.onReply(r(502, "5.5.2 what?")))).isEqualTo("HELO relay.test");
        assertThat(act(s.onReply(r(250, "old")))).isEqualTo("Ready");
        assertThat(act(s.begin(tx(BodyType.SEVEN_BIT, false, "x@c.test")))).isEqualTo("MAIL FROM:<a@b.test>");
    }

    @Test
    void startsTlsWhenOfferedAndGreetsAgain() {
        ClientSession s = session(TlsPolicy.OPPORTUNISTIC, null);
        s.onReply(r(220, "x"));
        assertThat(act(s.onReply(r(250, "x", "STARTTLS", "PIPELINING")))).isEqualTo("STARTTLS");
        assertThat(act(s.onReply(r(220, "2.0.0 go")))).isEqualTo("StartTls");
        assertThat(act(s.onTlsEstablished("TLSv1.3 TLS_AES_128_GCM_SHA256"))).isEqualTo("EHLO relay.test");
        assertThat(act(s.onReply(r(250, "x", "PIPELINING")))).isEqualTo("Ready");
        assertThat(s.tls()).startsWith("TLSv1.3");
    }

    @Test
    void mandatoryTlsWithoutStartTlsIsATemporaryLocalRefusal() {
        ClientSession s = session(TlsPolicy.REQUIRED, null);
        s.onReply(r(220, "x"));
        ClientSession.Action a = s.onReply(r(250, "x", "PIPELINING"));
        SessionReport report = ((ClientSession.Action.Finish) a).report();
        assertThat(report.localRefusal().status()).hasToString("4.7.4");
        assertThat(report.localRefusal().text()).contains("TLS is required, but was not offered by host mx.test");
    }

    @Test
    void opportunisticTlsGoesOnInPlaintextWhenStartTlsIsRefused() {
        ClientSession s = session(TlsPolicy.OPPORTUNISTIC, null);
        s.onReply(r(220, "x"));
        s.onReply(r(250, "x", "STARTTLS"));
        assertThat(act(s.onReply(r(454, "4.7.0 TLS not available")))).isEqualTo("Ready");
    }

    @Test
    void logsInToASmarthostOnlyInsideTls() {
        Credentials c = new Credentials("relay", "s3cret");
        ClientSession plain = session(TlsPolicy.NONE, c);
        plain.onReply(r(220, "x"));
        SessionReport refused = ((ClientSession.Action.Finish) plain.onReply(r(250, "x", "AUTH PLAIN LOGIN"))).report();
        assertThat(refused.localRefusal().text()).contains("without TLS");

        ClientSession s = session(TlsPolicy.REQUIRED, c);
        s.onReply(r(220, "x"));
        s.onReply(r(250, "x", "STARTTLS"));
        s.onReply(r(220, "go"));
        s.onTlsEstablished("TLSv1.3");
        String auth = act(s.onReply(r(250, "x", "AUTH PLAIN LOGIN")));
        assertThat(auth).isEqualTo("AUTH PLAIN " + java.util.Base64.getEncoder().encodeToString("\0relay\0s3cret".getBytes()));
        assertThat(act(s.onReply(r(235, "2.7.0 ok")))).isEqualTo("Ready");
        assertThat(c.toString()).doesNotContain("s3cret");
    }

    @Test
    void refusesToSendWhatTheServerCannotTake() {
        ClientSession eight = ready(session(TlsPolicy.NONE, null), "SIZE 10");
        SessionReport r8 = ((ClientSession.Action.TransactionDone) eight.begin(tx(BodyType.EIGHT_BIT_MIME, false, "x@c.test"))).report();
        assertThat(r8.localRefusal().status()).hasToString("5.6.3");
        ClientSession utf8 = ready(session(TlsPolicy.NONE, null), "8BITMIME");
        assertThat(((ClientSession.Action.TransactionDone) utf8.begin(tx(BodyType.SEVEN_BIT, true, "x@c.test"))).report()
                .localRefusal().status()).hasToString("5.6.7");
        ClientSession big = ready(session(TlsPolicy.NONE, null), "SIZE 1000");
        assertThat(((ClientSession.Action.TransactionDone) big.begin(tx(BodyType.SEVEN_BIT, false, "x@c.test"))).report()
                .localRefusal().status()).hasToString("5.3.4");
        assertThat(big.isReady()).isTrue();
    }

    @Test
    void recordsWhereTheConnectionWasLost() {
        ClientSession s = ready(session(TlsPolicy.NONE, null));
        s.begin(tx(BodyType.SEVEN_BIT, false, "x@c.test"));
        SessionReport report = ((ClientSession.Action.Finish) s.onConnectionLost("lost connection")).report();
        assertThat(report.endedAt()).isEqualTo(Stage.MAIL);
        assertThat(report.ioProblem()).contains("lost connection");
    }

    @Test
    void derivesAStatusWhenTheServerGivesNone() {
        assertThat(r(550, "no such user").status()).hasToString("5.0.0");
        assertThat(r(451, "5.1.1 wrong class").status()).hasToString("4.0.0");
        assertThat(r(250, "2.1.5 fine").status()).hasToString("2.1.5");
        assertThat(r(421, "4.7.0 go away", "second line")).hasToString("421 4.7.0 go away second line");
    }
}
