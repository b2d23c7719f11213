package net.mailrelay.bounce.dsn;

import static net.mailrelay.bounce.dsn.DsnFixtures.DSN_ID;
import static net.mailrelay.bounce.dsn.DsnFixtures.HOST;
import static net.mailrelay.bounce.dsn.DsnFixtures.framedMessage;
import static net.mailrelay.bounce.dsn.DsnFixtures.messageLength;
import static net.mailrelay.bounce.dsn.DsnFixtures.request;
import static net.mailrelay.bounce.dsn.DsnFixtures.userUnknown;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.Recipient;
import org.apache.james.mime4j.dom.Message;
import org.junit.jupiter.api.Test;

/** What a notice carries of the original message: RET, the size limit, and the kind of notice. */
class ReturnedOriginalTest {

    private final DsnComposer composer = DsnFixtures.composer();

    @Test
    void returnsTheWholeMessageWhenRetIsFullOrNotGivenAndItFits() throws IOException {
        for (DsnReturn ret : new DsnReturn[] {DsnReturn.FULL, null}) {
            ParsedDsn dsn = new ParsedDsn(compose(withReturn(ret, BodyType.SEVEN_BIT), DsnFixtures.original()));
            assertThat(dsn.partTypes()).containsExactly("text/plain", "message/delivery-status", "message/rfc822");
            assertThat(dsn.parts.get(2).getHeader().getField("Content-Description").getBody()).isEqualTo("Undelivered Message");
            Message returned = (Message) dsn.parts.get(2).getBody();
            assertThat(returned.getSubject()).isEqualTo("Quarterly report");
            assertThat(dsn.text(0)).contains("It's attached below.");
        }
    }

    @Test
    void returnsOnlyHeadersWhenTheMessageIsOverTheLimitOrBinary() throws IOException {
        byte[] original = DsnFixtures.original();
        DsnComposer small = new DsnComposer(HOST, DsnFixtures.CLOCK, original.length - 1);
        byte[] tooBig = small.compose(withReturn(DsnReturn.FULL, BodyType.SEVEN_BIT), original, 0, original.length, DSN_ID)
                .orElseThrow().message();
        byte[] binary = compose(withReturn(DsnReturn.FULL, BodyType.BINARY_MIME), original);
        for (byte[] dsn : List.of(tooBig, binary)) {
            ParsedDsn parsed = new ParsedDsn(dsn);
            assertThat(parsed.partTypes()).containsExactly("text/plain", "message/delivery-status", "text/rfc822-headers");
            assertThat(parsed.text(2)).contains("Subject: Quarterly report").doesNotContain("secret body");
            assertThat(parsed.text(0)).contains("Its headers are attached");
        }
    }

    @Test
    void aMessageOfExactlyTheLimitIsReturnedWhole() throws IOException {
        byte[] original = DsnFixtures.original();
        DsnComposer exact = new DsnComposer(HOST, DsnFixtures.CLOCK, original.length);
        byte[] dsn = exact.compose(withReturn(DsnReturn.FULL, BodyType.SEVEN_BIT), original, 0, original.length, DSN_ID)
                .orElseThrow().message();
        assertThat(new ParsedDsn(dsn).partTypes()).last().isEqualTo("message/rfc822");
    }

    @Test
    void theReturnSizeLimitAlsoBoundsTheReturnedHeaders() throws IOException {
        DsnComposer tiny = new DsnComposer(HOST, DsnFixtures.CLOCK, 120);
        byte[] dsn = tiny.compose(request("sender@example.org", userUnknown()), framedMessage(), 4, messageLength(), DSN_ID)
                .orElseThrow().message();
        assertThat(new ParsedDsn(dsn).text(2)).startsWith("Received: ").doesNotContain("Subject:");
    }

    @Test
    void aReturnedMessageHasCrlfLineEndings() throws IOException {
        byte[] original = "Subject: hi\nX-Long: a\r b\n\nbody\n".getBytes(StandardCharsets.UTF_8);
        byte[] dsn = compose(withReturn(null, BodyType.SEVEN_BIT), original);
        String all = new String(dsn, StandardCharsets.UTF_8);
        assertThat(all).contains("\r\n\r\nSubject: hi\r\nX-Long: a\r\n b\r\n\r\nbody\r\n");
        assertThat(all.replace("\r\n", "")).doesNotContain("\r", "\n");
    }

    @Test
    void delaysAndSuccessesReturnHeadersEvenWhenRetIsFull() throws IOException {
        Envelope full = DsnFixtures.envelope("sender@example.org", DsnReturn.FULL, false);
        RecipientReport delay = DsnFixtures.delayed(Recipient.of("rcpt@example.net"), "4.4.1", null, "no answer", null);
        RecipientReport success = new RecipientReport(new Recipient("rcpt@example.net", null, Set.of(Notify.SUCCESS)),
                Action.DELIVERED, "2.0.0", "mx.example.net", "250 2.0.0 Ok", 1L);
        for (RecipientReport r : List.of(delay, success)) {
            byte[] dsn = compose(new BounceRequest(full, List.of(r), HOST), DsnFixtures.original());
            assertThat(new ParsedDsn(dsn).partTypes()).last().isEqualTo("text/rfc822-headers");
        }
    }

    private static BounceRequest withReturn(DsnReturn ret, BodyType body) {
        Envelope e = DsnFixtures.envelope("sender@example.org", ret, false);
        Envelope withBody = new Envelope(e.queueId(), e.reversePath(), e.recipients(), body, e.smtpUtf8(), e.dsnReturn(),
                e.envelopeId(), e.clientAddress(), e.heloName(), e.authenticatedAs(), e.arrivedAtMillis(), e.attempts(),
                e.notBeforeMillis(), e.lastDiagnostic());
        return new BounceRequest(withBody, List.of(userUnknown()), HOST);
    }

    private byte[] compose(BounceRequest request, byte[] original) {
        return composer.compose(request, original, 0, original.length, DSN_ID).orElseThrow().message();
    }
}
