package net.mailrelay.delivery.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import net.mailrelay.protocol.envelope.BodyType;
import org.junit.jupiter.api.Test;

class OutboundSessionTest {

    static RemoteReply r(int code, String... lines) {
        return new RemoteReply(code, Arrays.asList(lines));
    }

    static OutboundSession session(BodyType body, boolean utf8, String... rcpts) {
        return new OutboundSession(new OutboundSession.Transaction("relay.test", "a@b.test", List.of(rcpts), body, utf8, 1234),
                "mx.test", "192.0.2.1:25");
    }

    static String command(OutboundSession.Action a) {
        return a instanceof OutboundSession.Action.Send s ? s.command() : a.getClass().getSimpleName();
    }

    @Test
    void runsTheWholeTransaction() {
        OutboundSession s = session(BodyType.EIGHT_BIT_MIME, false, "x@c.test", "y@c.test");
        assertThat(command(s.onReply(r(220, "mx.test ESMTP")))).isEqualTo("EHLO relay.test");
        assertThat(command(s.onReply(r(250, "mx.test", "8BITMIME", "SIZE 100000", "PIPELINING"))))
                .isEqualTo("MAIL FROM:<a@b.test> SIZE=1234 BODY=8BITMIME");
        assertThat(command(s.onReply(r(250, "2.1.0 Ok")))).isEqualTo("RCPT TO:<x@c.test>");
        assertThat(command(s.onReply(r(550, "5.1.1 no such user")))).isEqualTo("RCPT TO:<y@c.test>");
        assertThat(command(s.onReply(r(250, "2.1.5 Ok")))).isEqualTo("DATA");
        assertThat(command(s.onReply(r(354, "go ahead")))).isEqualTo("SendMessage");
        assertThat(command(s.onReply(r(250, "2.0.0 Ok: queued as X")))).isEqualTo("Finish");
        SessionReport report = s.report();
        assertThat(report.endedAt()).isEqualTo(Stage.DONE);
        assertThat(report.recipientReplies().get("x@c.test").code()).isEqualTo(550);
        assertThat(report.finalReply().code()).isEqualTo(250);
    }

    @Test
    void fallsBackToHeloWhenEhloIsUnknown() {
        OutboundSession s = session(BodyType.SEVEN_BIT, false, "x@c.test");
        s.onReply(r(220, "old"));
        assertThat(command(s.onReply(r(502, "5.5.2 what?")))).isEqualTo("HELO relay.test");
        assertThat(command(s.onReply(r(250, "old")))).isEqualTo("MAIL FROM:<a@b.test>");
    }

    @Test
    void stopsWhenNoRecipientIsAccepted() {
        OutboundSession s = session(BodyType.SEVEN_BIT, false, "x@c.test");
        s.onReply(r(220, "x"));
        s.onReply(r(250, "x"));
        s.onReply(r(250, "ok"));
        assertThat(command(s.onReply(r(451, "4.3.0 later")))).isEqualTo("Finish");
        assertThat(s.report().finalReply()).isNull();
    }

    @Test
    void refusesToSendWhatTheServerCannotTake() {
        OutboundSession eight = session(BodyType.EIGHT_BIT_MIME, false, "x@c.test");
        eight.onReply(r(220, "x"));
        assertThat(command(eight.onReply(r(250, "x", "SIZE 10")))).isEqualTo("Finish");
        assertThat(eight.report().localRefusal().status()).hasToString("5.6.3");

        OutboundSession utf8 = session(BodyType.SEVEN_BIT, true, "x@c.test");
        utf8.onReply(r(220, "x"));
        utf8.onReply(r(250, "x", "8BITMIME"));
        assertThat(utf8.report().localRefusal().status()).hasToString("5.6.7");

        OutboundSession big = session(BodyType.SEVEN_BIT, false, "x@c.test");
        big.onReply(r(220, "x"));
        big.onReply(r(250, "x", "SIZE 1000"));
        assertThat(big.report().localRefusal().status()).hasToString("5.3.4");
    }

    @Test
    void recordsWhereTheConnectionWasLost() {
        OutboundSession s = session(BodyType.SEVEN_BIT, false, "x@c.test");
        s.onReply(r(220, "x"));
        s.onReply(r(250, "x"));
        s.onConnectionLost("lost connection with mx.test while sending MAIL FROM");
        assertThat(s.report().endedAt()).isEqualTo(Stage.MAIL);
        assertThat(s.report().ioProblem()).contains("lost connection");
    }

    @Test
    void derivesAStatusWhenTheServerGivesNone() {
        assertThat(r(550, "no such user").status()).hasToString("5.0.0");
        assertThat(r(451, "5.1.1 wrong class").status()).hasToString("4.0.0");
        assertThat(r(250, "2.1.5 fine").status()).hasToString("2.1.5");
        assertThat(r(421, "4.7.0 go away", "second line")).hasToString("421 4.7.0 go away second line");
    }
}
