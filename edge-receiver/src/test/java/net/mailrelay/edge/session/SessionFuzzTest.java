package net.mailrelay.edge.session;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.policy.RelayPolicy;
import net.mailrelay.protocol.smtp.Reply;

/**
 * Coverage-guided fuzz targets (Jazzer) for the SMTP session: any sequence of command lines, over-long
 * lines, message contents, TLS and AUTH outcomes and queue answers, on every kind of listener, gets a
 * well-formed reply to each input, and the session never throws. Also the parsers it uses on
 * client input: ESMTP parameters, BDAT arguments and the header scan of a received message.
 */
class SessionFuzzTest {

    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-28T17:51:02Z"), ZoneOffset.UTC);
    static final String[] VERBS = {"EHLO ", "HELO ", "MAIL FROM:", "RCPT TO:", "DATA", "BDAT ", "RSET", "NOOP",
        "QUIT", "VRFY ", "EXPN ", "HELP", "STARTTLS", "AUTH PLAIN ", "AUTH LOGIN", "*", "="};

    @FuzzTest
    void commandSequences(FuzzedDataProvider data) throws Exception {
        ListenerPolicy listener = switch (data.consumeInt(0, 2)) {
            case 0 -> ListenerPolicy.forMx(data.consumeBoolean());
            case 1 -> ListenerPolicy.forSubmission();
            default -> ListenerPolicy.forSubmissions();
        };
        SessionSettings settings = new SessionSettings("relay.test", listener, data.consumeLong(1, 1 << 20),
                data.consumeInt(100, 102), data.consumeInt(1, 20), data.consumeInt(1, 5),
                data.pickValue(BareLineFeeds.values()),
                new RelayPolicy(data.consumeBoolean() ? List.of(Cidr.parse("127.0.0.0/8")) : List.of(),
                        Set.of("relay-domain.test")), null);
        SmtpSession s = new SmtpSession(settings, InetAddress.getByName("127.0.0.1"), CLOCK);
        assertWellFormed(s.greeting());
        for (int i = 0; i < 40 && data.remainingBytes() > 0; i++) {
            Step step;
            if (data.consumeInt(0, 30) == 0) {
                step = s.lineTooLong();
            } else {
                String verb = data.consumeBoolean() ? data.pickValue(VERBS) : "";
                step = s.command(verb + data.consumeString(120));
            }
            if (!follow(s, step, data)) {
                return;
            }
        }
    }

    /** Plays the network layer's part for one step; false once the session has closed. */
    private static boolean follow(SmtpSession s, Step step, FuzzedDataProvider data) {
        for (int hops = 0; hops < 6; hops++) {
            if (step instanceof Step.Respond r) {
                assertWellFormed(r.reply());
                return true;
            } else if (step instanceof Step.RespondAndClose r) {
                assertWellFormed(r.reply());
                return false;
            } else if (step instanceof Step.StartTls t) {
                assertWellFormed(t.reply());
                s.tlsEstablished("TLSv1.3 with cipher TLS_AES_128_GCM_SHA256");
                return true;
            } else if (step instanceof Step.DiscardChunk d) {
                assertWellFormed(d.reply());
                return true;
            } else if (step instanceof Step.Authenticate) {
                step = s.authenticated(data.pickValue(AuthOutcome.values()));
            } else if (step instanceof Step.ReceiveData r) {
                assertWellFormed(r.reply());
                byte[] content = data.consumeBytes(2000);
                step = s.endOfData(content.length, MessageFacts.scan(ByteBuffer.wrap(content), data.consumeInt(0, 3)));
            } else if (step instanceof Step.ReceiveChunk) {
                byte[] content = data.consumeBytes(2000);
                step = s.chunkEnded(content.length, MessageFacts.scan(ByteBuffer.wrap(content), 0));
            } else if (step instanceof Step.Publish p) {
                assertThat(p.envelope().recipients()).isNotEmpty();
                assertThat(new String(p.traceHeader(), StandardCharsets.ISO_8859_1)).startsWith("Received: ").endsWith("\r\n");
                Reply answer = data.consumeBoolean() ? s.published(data.consumeLong(0, 1 << 20))
                        : s.publishFailed(data.consumeString(40));
                assertWellFormed(answer);
                return true;
            }
        }
        return true;
    }

    static void assertWellFormed(Reply reply) {
        String wire = reply.toWire();
        assertThat(wire).endsWith("\r\n");
        String[] lines = wire.substring(0, wire.length() - 2).split("\r\n", -1);
        for (int i = 0; i < lines.length; i++) {
            assertThat(lines[i]).as(wire).matches("[2345]\\d\\d" + (i == lines.length - 1 ? " " : "-") + "[^\r\n]*");
            assertThat(lines[i].length()).as("line length").isLessThanOrEqualTo(512);
        }
        if (reply.status() != null) {
            assertThat(reply.status().toString().charAt(0)).isEqualTo(wire.charAt(0));
        }
    }

    /** MAIL and RCPT parameters from any client: accepted or refused with a reply, never an exception. */
    @FuzzTest
    void esmtpParameters(FuzzedDataProvider data) {
        Map<String, String> params = new HashMap<>();
        int n = data.consumeInt(0, 6);
        for (int i = 0; i < n; i++) {
            String key = data.consumeBoolean() ? data.pickValue(new String[] {"SIZE", "BODY", "RET", "ENVID", "NOTIFY",
                "ORCPT", "SMTPUTF8", "AUTH", "REQUIRETLS"}) : data.consumeString(10);
            params.put(key, data.consumeString(80));
        }
        EsmtpParameters.Mail mail = EsmtpParameters.mail(params);
        if (mail.error() != null) {
            assertWellFormed(mail.error());
        } else {
            assertThat(mail.size()).isNotNegative();
            assertThat(mail.body()).isNotNull();
        }
        EsmtpParameters.Rcpt rcpt = EsmtpParameters.rcpt(params);
        if (rcpt.error() != null) {
            assertWellFormed(rcpt.error());
        }
    }

    /** BDAT arguments: a size and LAST, or null. */
    @FuzzTest
    void bdatArgument(FuzzedDataProvider data) {
        String argument = data.consumeRemainingAsString();
        BdatArgument b = BdatArgument.parse(argument);
        if (b != null) {
            assertThat(b.octets()).isNotNegative();
        }
    }
}
