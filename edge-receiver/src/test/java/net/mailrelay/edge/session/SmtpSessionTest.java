package net.mailrelay.edge.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.policy.RelayPolicy;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Notify;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SmtpSessionTest {

    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-28T17:51:02Z"), ZoneOffset.UTC);
    static final SessionSettings SETTINGS = new SessionSettings("relay.test", ListenerPolicy.forMx(false), 1000, 100, 20, 50,
            BareLineFeeds.REJECT, new RelayPolicy(List.of(Cidr.parse("127.0.0.0/8")), Set.of("relay-domain.test")));
    static final MessageFacts PLAIN = new MessageFacts(0, true, true, 0);

    static SmtpSession session(String client) throws Exception {
        return new SmtpSession(SETTINGS, InetAddress.getByName(client), CLOCK);
    }

    static String reply(Step step) {
        if (step instanceof Step.Respond r) {
            return r.reply().toString();
        }
        if (step instanceof Step.RespondAndClose r) {
            return "CLOSE " + r.reply();
        }
        if (step instanceof Step.ReceiveData r) {
            return r.reply().toString();
        }
        if (step instanceof Step.DiscardChunk d) {
            return d.reply().toString();
        }
        if (step instanceof Step.StartTls t) {
            return t.reply().toString();
        }
        return step.toString();
    }

    /** Drives a fresh session into a state with commands that must all succeed. */
    static SmtpSession in(SessionState state) throws Exception {
        SmtpSession s = session("127.0.0.1");
        List<String> script = switch (state) {
            case CONNECTED -> List.of();
            case IDENTIFIED -> List.of("EHLO client.test");
            case MAIL_GIVEN -> List.of("EHLO client.test", "MAIL FROM:<a@client.test>");
            case RCPT_GIVEN -> List.of("EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<b@far.test>");
            default -> throw new IllegalArgumentException(state.toString());
        };
        for (String line : script) {
            assertThat(reply(s.command(line))).startsWith("250");
        }
        assertThat(s.state()).isEqualTo(state);
        return s;
    }

    static Stream<Arguments> everyStateAndCommand() {
        return Stream.of(
                Arguments.of(SessionState.CONNECTED, "HELO c.test", "250 relay.test"),
                Arguments.of(SessionState.CONNECTED, "EHLO c.test", "250 relay.test PIPELINING"),
                Arguments.of(SessionState.CONNECTED, "MAIL FROM:<a@b.test>", "503 5.5.1 Error: send HELO/EHLO first"),
                Arguments.of(SessionState.CONNECTED, "RCPT TO:<a@b.test>", "503 5.5.1 Error: send HELO/EHLO first"),
                Arguments.of(SessionState.CONNECTED, "DATA", "503 5.5.1 Error: send HELO/EHLO first"),
                Arguments.of(SessionState.CONNECTED, "RSET", "250 2.0.0 Ok"),
                Arguments.of(SessionState.CONNECTED, "NOOP", "250 2.0.0 Ok"),
                Arguments.of(SessionState.CONNECTED, "VRFY postmaster", "252 2.0.0"),
                Arguments.of(SessionState.CONNECTED, "EXPN list", "502 5.5.1"),
                Arguments.of(SessionState.CONNECTED, "HELP", "214 2.0.0"),
                Arguments.of(SessionState.CONNECTED, "FROB", "500 5.5.1 Error: command not recognized"),
                Arguments.of(SessionState.CONNECTED, "QUIT", "CLOSE 221 2.0.0 Bye"),

                Arguments.of(SessionState.IDENTIFIED, "EHLO again.test", "250 relay.test"),
                Arguments.of(SessionState.IDENTIFIED, "MAIL FROM:<a@b.test>", "250 2.1.0 Ok"),
                Arguments.of(SessionState.IDENTIFIED, "RCPT TO:<a@b.test>", "503 5.5.1 Error: need MAIL command"),
                Arguments.of(SessionState.IDENTIFIED, "DATA", "503 5.5.1 Error: need MAIL command"),
                Arguments.of(SessionState.IDENTIFIED, "RSET", "250 2.0.0 Ok"),
                Arguments.of(SessionState.IDENTIFIED, "QUIT", "CLOSE 221 2.0.0 Bye"),

                Arguments.of(SessionState.MAIL_GIVEN, "MAIL FROM:<a@b.test>", "503 5.5.1 Error: nested MAIL command"),
                Arguments.of(SessionState.MAIL_GIVEN, "RCPT TO:<x@far.test>", "250 2.1.5 Ok"),
                Arguments.of(SessionState.MAIL_GIVEN, "DATA", "503 5.5.1 Error: need RCPT command"),
                Arguments.of(SessionState.MAIL_GIVEN, "RSET", "250 2.0.0 Ok"),
                Arguments.of(SessionState.MAIL_GIVEN, "NOOP", "250 2.0.0 Ok"),
                Arguments.of(SessionState.MAIL_GIVEN, "HELO c.test", "250 relay.test"),

                Arguments.of(SessionState.RCPT_GIVEN, "MAIL FROM:<a@b.test>", "503 5.5.1 Error: nested MAIL command"),
                Arguments.of(SessionState.RCPT_GIVEN, "RCPT TO:<y@far.test>", "250 2.1.5 Ok"),
                Arguments.of(SessionState.RCPT_GIVEN, "DATA", "354 End data with <CR><LF>.<CR><LF>"),
                Arguments.of(SessionState.RCPT_GIVEN, "RSET", "250 2.0.0 Ok"),
                Arguments.of(SessionState.RCPT_GIVEN, "VRFY x", "252 2.0.0"),
                Arguments.of(SessionState.RCPT_GIVEN, "FROB", "500 5.5.1"),
                Arguments.of(SessionState.RCPT_GIVEN, "QUIT", "CLOSE 221 2.0.0 Bye"));
    }

    @ParameterizedTest(name = "{0} + {1}")
    @MethodSource("everyStateAndCommand")
    void everyCommandInEveryStateHasADefinedReply(SessionState state, String command, String expected) throws Exception {
        assertThat(reply(in(state).command(command))).startsWith(expected);
    }

    @Test
    void everyStateAndVerbPairIsInTheTable() throws Exception {
        for (SessionState state : List.of(SessionState.CONNECTED, SessionState.IDENTIFIED, SessionState.MAIL_GIVEN,
                SessionState.RCPT_GIVEN)) {
            for (var verb : net.mailrelay.protocol.smtp.CommandLine.Verb.values()) {
                String line = verb == net.mailrelay.protocol.smtp.CommandLine.Verb.UNKNOWN ? "XYZZY" : verb.name();
                assertThat(reply(in(state).command(line))).as(state + " " + verb).matches("(CLOSE )?[2-5]\\d\\d .*");
            }
        }
    }

    @Test
    void rsetAndHeloEndTheTransaction() throws Exception {
        SmtpSession s = in(SessionState.RCPT_GIVEN);
        s.command("RSET");
        assertThat(s.state()).isEqualTo(SessionState.IDENTIFIED);
        assertThat(reply(s.command("DATA"))).startsWith("503");
    }

    @Test
    void refusesRelayingForUntrustedClientsToForeignDomains() throws Exception {
        SmtpSession s = session("192.0.2.10");
        s.command("EHLO outsider.test");
        s.command("MAIL FROM:<a@outsider.test>");
        assertThat(reply(s.command("RCPT TO:<victim@far.test>")))
                .isEqualTo("554 5.7.1 <victim@far.test>: Relay access denied");
        assertThat(reply(s.command("RCPT TO:<user@relay-domain.test>"))).startsWith("250 2.1.5");
        assertThat(reply(s.command("RCPT TO:<user@RELAY-DOMAIN.test>"))).startsWith("250 2.1.5");
        assertThat(reply(s.command("RCPT TO:<user@sub.relay-domain.test>"))).startsWith("554 5.7.1");
    }

    @Test
    void checksAddressesAndParameters() throws Exception {
        SmtpSession s = in(SessionState.IDENTIFIED);
        assertThat(reply(s.command("MAIL <a@b.test>"))).startsWith("501 5.5.4 Syntax: MAIL FROM:<address>");
        assertThat(reply(s.command("MAIL FROM:<a@>"))).startsWith("501 5.1.7 Bad sender address syntax");
        assertThat(reply(s.command("MAIL FROM:<a@b.test> SIZE=x"))).startsWith("501 5.5.4 Bad message size syntax");
        assertThat(reply(s.command("MAIL FROM:<a@b.test> SIZE=1001"))).startsWith("552 5.3.4");
        assertThat(reply(s.command("MAIL FROM:<a@b.test> FOO=1"))).startsWith("555 5.5.4 Unsupported option: FOO");
        assertThat(reply(s.command("MAIL FROM:<jos\u00e9@b.test>"))).startsWith("553 5.6.7");
        assertThat(reply(s.command("MAIL FROM:<> BODY=8BITMIME RET=HDRS ENVID=abc+2B"))).startsWith("250 2.1.0");
        assertThat(reply(s.command("RCPT TO:<>"))).startsWith("501 5.1.3 Bad recipient address syntax");
        assertThat(reply(s.command("RCPT TO:<x@far.test> NOTIFY=NEVER,DELAY"))).startsWith("501 5.5.4 Bad NOTIFY");
        assertThat(reply(s.command("RCPT TO:<x@far.test> ORCPT=rfc822"))).startsWith("501 5.5.4 Bad ORCPT");
        assertThat(reply(s.command("RCPT TO:<x@far.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40far.test")))
                .startsWith("250 2.1.5");
        assertThat(reply(s.command("DATA"))).startsWith("354");
        Step.Publish p = (Step.Publish) s.endOfData(10, PLAIN);
        assertThat(p.envelope().reversePath()).isEmpty();
        assertThat(p.envelope().body()).isEqualTo(BodyType.EIGHT_BIT_MIME);
        assertThat(p.envelope().dsnReturn()).isEqualTo(DsnReturn.HDRS);
        assertThat(p.envelope().envelopeId()).isEqualTo("abc+2B");
        assertThat(p.envelope().recipients().get(0).notifyOn()).containsExactlyInAnyOrder(Notify.SUCCESS, Notify.FAILURE);
        assertThat(p.envelope().recipients().get(0).originalRecipient()).isEqualTo("rfc822;x+40far.test");
    }

    /** Postfix strict_rfc821_envelopes = yes, the MX listener's default. */
    @Test
    void strictEnvelopesRefuseAnAddressWithoutBrackets() throws Exception {
        assertThat(SETTINGS.listener().strictEnvelopes()).isTrue();
        SmtpSession s = in(SessionState.IDENTIFIED);
        assertThat(reply(s.command("MAIL FROM:a@client.test"))).isEqualTo("501 5.5.4 Syntax error: address not enclosed in <>");
        assertThat(reply(s.command("MAIL FROM:a@client.test SIZE=10"))).startsWith("501 5.5.4 Syntax error: address not enclosed");
        assertThat(s.state()).isEqualTo(SessionState.IDENTIFIED);
        assertThat(reply(s.command("MAIL FROM: <a@client.test>"))).as("a space before the path is not what strict is about")
                .startsWith("250 2.1.0");
        assertThat(reply(s.command("RCPT TO:b@far.test"))).isEqualTo("501 5.5.4 Syntax error: address not enclosed in <>");
        assertThat(s.state()).isEqualTo(SessionState.MAIL_GIVEN);
        assertThat(reply(s.command("RCPT TO:<b@far.test>"))).startsWith("250 2.1.5");
    }

    /** Postfix strict_rfc821_envelopes = no, the submission listeners' default. */
    @Test
    void lenientEnvelopesTakeAnAddressWithoutBrackets() throws Exception {
        SessionSettings lenient = SETTINGS.forListener(ListenerPolicy.forMx(false).withStrictEnvelopes(false));
        assertThat(ListenerPolicy.forSubmission().strictEnvelopes()).isFalse();
        assertThat(ListenerPolicy.forSubmissions().strictEnvelopes()).isFalse();
        SmtpSession s = new SmtpSession(lenient, InetAddress.getByName("127.0.0.1"), CLOCK);
        assertThat(reply(s.command("EHLO client.test"))).startsWith("250");
        assertThat(reply(s.command("MAIL FROM:a@client.test SIZE=10"))).startsWith("250 2.1.0");
        assertThat(reply(s.command("RCPT TO:b@far.test"))).startsWith("250 2.1.5");
        assertThat(reply(s.command("DATA"))).startsWith("354");
        Step.Publish p = (Step.Publish) s.endOfData(10, PLAIN);
        assertThat(p.envelope().reversePath()).isEqualTo("a@client.test");
        assertThat(p.envelope().recipients().get(0).address()).isEqualTo("b@far.test");
    }

    @Test
    void carriesUtf8AddressesWhenSmtpUtf8IsGiven() throws Exception {
        SmtpSession s = in(SessionState.IDENTIFIED);
        assertThat(reply(s.command("MAIL FROM:<jos\u00e9@b.test> SMTPUTF8"))).startsWith("250");
        assertThat(reply(s.command("RCPT TO:<\u7528\u6237@far.test>"))).startsWith("250");
        s.command("DATA");
        Step.Publish p = (Step.Publish) s.endOfData(1, PLAIN);
        assertThat(p.envelope().smtpUtf8()).isTrue();
        assertThat(p.envelope().recipients().get(0).address()).isEqualTo("\u7528\u6237@far.test");
        assertThat(new String(p.traceHeader(), java.nio.charset.StandardCharsets.UTF_8)).contains("with UTF8SMTP id");
    }

    @Test
    void publishesOnlyAtEndOfDataAndRepliesAfterTheAcknowledgement() throws Exception {
        SmtpSession s = in(SessionState.RCPT_GIVEN);
        s.command("DATA");
        Step step = s.endOfData(500, PLAIN);
        assertThat(step).isInstanceOf(Step.Publish.class);
        Step.Publish p = (Step.Publish) step;
        assertThat(s.state()).isEqualTo(SessionState.QUEUEING);
        String trace = new String(p.traceHeader(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(trace).isEqualTo("Received: from client.test ([127.0.0.1])\r\n"
                + "\tby relay.test (mail-relay) with ESMTP id " + p.envelope().queueId() + "\r\n"
                + "\tfor <b@far.test>; Sat, 28 Nov 2026 17:51:02 +0000 (UTC)\r\n");
        assertThat(s.published(500).toString()).isEqualTo("250 2.0.0 Ok: queued as " + p.envelope().queueId());
        assertThat(s.state()).isEqualTo(SessionState.IDENTIFIED);
    }

    @Test
    void answers451WhenTheQueueFails() throws Exception {
        SmtpSession s = in(SessionState.RCPT_GIVEN);
        s.command("DATA");
        s.endOfData(5, PLAIN);
        assertThat(s.publishFailed("timeout").toString()).startsWith("451 4.3.0");
        assertThat(reply(s.command("MAIL FROM:<a@b.test>"))).startsWith("250");
    }

    @Test
    void refusesOversizedContentAndStaysUsable() throws Exception {
        SmtpSession s = in(SessionState.RCPT_GIVEN);
        s.command("DATA");
        assertThat(reply(s.endOfData(1001, PLAIN))).isEqualTo("552 5.3.4 Message size exceeds fixed limit");
        assertThat(reply(s.command("MAIL FROM:<a@b.test>"))).startsWith("250");
    }

    @Test
    void limitsRecipients() throws Exception {
        SmtpSession s = in(SessionState.MAIL_GIVEN);
        for (int i = 0; i < 100; i++) {
            assertThat(reply(s.command("RCPT TO:<r" + i + "@far.test>"))).startsWith("250");
        }
        assertThat(reply(s.command("RCPT TO:<one-more@far.test>"))).isEqualTo("452 4.5.3 Error: too many recipients");
    }

    @Test
    void hangsUpAfterTooManyErrors() throws Exception {
        SmtpSession s = session("127.0.0.1");
        for (int i = 0; i < 19; i++) {
            assertThat(reply(s.command("BOGUS"))).startsWith("500");
        }
        assertThat(reply(s.command("BOGUS"))).isEqualTo("CLOSE 421 4.7.0 Error: too many errors");
    }

    @Test
    void refusesOverlongCommandLines() throws Exception {
        SmtpSession s = in(SessionState.IDENTIFIED);
        assertThat(reply(s.command("NOOP " + "x".repeat(505)))).startsWith("250");
        assertThat(reply(s.command("NOOP " + "x".repeat(506)))).isEqualTo("500 5.5.6 Error: line too long");
        assertThat(reply(s.command("MAIL FROM:<a@b.test> ENVID=" + "x".repeat(100)))).startsWith("250");
    }

    @Test
    void syntaxOfHeloAndData() throws Exception {
        SmtpSession s = session("127.0.0.1");
        assertThat(reply(s.command("EHLO"))).startsWith("501 5.5.4 Syntax: EHLO hostname");
        assertThat(reply(s.command("HELO"))).startsWith("501 5.5.4 Syntax: HELO hostname");
        assertThat(reply(s.command("RSET now"))).startsWith("501 5.5.4");
        SmtpSession t = in(SessionState.RCPT_GIVEN);
        assertThat(reply(t.command("DATA now"))).startsWith("501 5.5.4 Syntax: DATA");
    }
}
