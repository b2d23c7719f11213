package net.mailrelay.bounce.dsn;

import static net.mailrelay.bounce.dsn.DsnFixtures.DSN_ID;
import static net.mailrelay.bounce.dsn.DsnFixtures.HOST;
import static net.mailrelay.bounce.dsn.DsnFixtures.framedMessage;
import static net.mailrelay.bounce.dsn.DsnFixtures.messageLength;
import static net.mailrelay.bounce.dsn.DsnFixtures.quietFailure;
import static net.mailrelay.bounce.dsn.DsnFixtures.request;
import static net.mailrelay.bounce.dsn.DsnFixtures.userUnknown;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.dkim.KeyGeneration;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.testing.Dkimpy;
import net.mailrelay.testing.OpenDkim;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.dom.field.ContentTypeField;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DsnComposerTest {

    private final DsnComposer composer = DsnFixtures.composer();

    @Test
    void composesAMultipartReportForTheRecipientsThatAskedForIt() throws IOException {
        Message dsn = parse(compose(request("sender@example.org", userUnknown(), quietFailure())));

        assertThat(dsn.getMimeType()).isEqualTo("multipart/report");
        ContentTypeField type = (ContentTypeField) dsn.getHeader().getField("Content-Type");
        assertThat(type.getParameter("report-type")).isEqualTo("delivery-status");
        assertThat(dsn.getFrom().get(0).getAddress()).isEqualTo("MAILER-DAEMON@" + HOST);
        assertThat(dsn.getTo().flatten().get(0).getAddress()).isEqualTo("sender@example.org");
        assertThat(dsn.getSubject()).isEqualTo("Undelivered Mail Returned to Sender");
        assertThat(dsn.getMessageId()).isEqualTo("<" + DSN_ID + "@" + HOST + ">");
        assertThat(dsn.getHeader().getField("Auto-Submitted").getBody()).isEqualTo("auto-replied");

        List<Entity> parts = ((Multipart) dsn.getBody()).getBodyParts();
        assertThat(parts).extracting(Entity::getMimeType)
                .containsExactly("text/plain", "message/delivery-status", "text/rfc822-headers");

        String text = text(parts.get(0));
        assertThat(text).contains("This is the mail system at host " + HOST + ".")
                .contains("<rcpt@example.net>: host mx.example.net said: 550 5.1.1 <rcpt@example.net>:")
                .doesNotContain("quiet@example.com");

        String status = unfold(text(parts.get(1)));
        assertThat(status).contains("Reporting-MTA: dns; " + HOST + "\r\n",
                "X-Mail-Relay-Queue-ID: 01HF2Q3R4S5T6V7W8X9Y\r\n",
                "Original-Envelope-Id: q3+report\r\n",
                "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
                "\r\n\r\nOriginal-Recipient: rfc822;Rcpt+alias@example.net\r\n",
                "Final-Recipient: rfc822; rcpt@example.net\r\n",
                "Action: failed\r\n",
                "Status: 5.1.1\r\n",
                "Remote-MTA: dns; mx.example.net\r\n",
                "Diagnostic-Code: smtp; 550 5.1.1 <rcpt@example.net>: Recipient address rejected: User unknown"
                        + " in virtual mailbox table\r\n",
                "Last-Attempt-Date: Tue, 14 Nov 2023 22:18:20 +0000\r\n")
                .doesNotContain("quiet@example.com");

        String headers = text(parts.get(2));
        assertThat(headers).isEqualTo(DsnFixtures.ORIGINAL_HEADERS).doesNotContain("secret body");
    }

    /** Notices are signed with the keys of the relay's own domain (the hostname's parent here) and verify. */
    @Test
    void signsTheNoticeWithTheRelaysOwnDomain(@TempDir Path dir) throws Exception {
        List<String> zone = List.of(
                KeyGeneration.generate(dir, "example.org", "r1", "rsa", 2048).dnsRecord(),
                KeyGeneration.generate(dir, "example.org", "e1", "ed25519", 0).dnsRecord());
        DkimKeys keys = DkimKeys.load(dir,
                DkimKeys.Settings.defaults());
        DsnComposer signing = new DsnComposer(HOST, DsnFixtures.CLOCK, DsnFixtures.SIZE_LIMIT, keys.forDomainOrParent(HOST));

        byte[] dsn = signing.compose(request("sender@example.org", userUnknown()), framedMessage(), 4, messageLength(), DSN_ID)
                .orElseThrow().message();

        assertThat(new String(dsn, StandardCharsets.US_ASCII)).startsWith("DKIM-Signature: ");
        assertThat(Dkimpy.verify(dsn, zone)).isEqualTo("pass pass");
        assertThat(OpenDkim.verify(dsn, zone)).isEqualTo("pass pass");
        assertThat(Dkimpy.verify(compose(request("sender@example.org", userUnknown())), zone))
                .as("the composer without keys").isEqualTo("none");
    }

    @Test
    void neverBouncesTheNullSender() {
        assertThat(composer.compose(request("", userUnknown()), framedMessage(), 4, messageLength(), DSN_ID)).isEmpty();
    }

    @Test
    void saysNothingWhenEveryRecipientAskedForNever() {
        assertThat(composer.compose(request("sender@example.org", quietFailure()), framedMessage(), 4, messageLength(),
                DSN_ID)).isEmpty();
    }

    @Test
    void reportsDelaysOnlyToThoseWhoAskedOrLeftTheDefault() throws IOException {
        RecipientReport failureOnly = delayed(new Recipient("a@example.net", null, Set.of(Notify.FAILURE)));
        RecipientReport asked = delayed(new Recipient("b@example.net", null, Set.of(Notify.DELAY, Notify.FAILURE)));
        RecipientReport byDefault = delayed(Recipient.of("c@example.net"));
        assertThat(composer.compose(request("s@example.org", failureOnly), framedMessage(), 4, messageLength(), DSN_ID))
                .isEmpty();

        Dsn dsn = composer.compose(request("s@example.org", failureOnly, asked, byDefault), framedMessage(), 4,
                messageLength(), DSN_ID).orElseThrow();
        Message parsed = parse(dsn.message());
        assertThat(dsn.kind()).isEqualTo(Dsn.Kind.DELAY);
        assertThat(parsed.getSubject()).isEqualTo("Delayed Mail (still being retried)");
        String status = text(((Multipart) parsed.getBody()).getBodyParts().get(1));
        assertThat(status).contains("Final-Recipient: rfc822; b@example.net", "Final-Recipient: rfc822; c@example.net",
                "Action: delayed", "Status: 4.4.1", "Diagnostic-Code: X-Mail-Relay; connect to mx.example.net: Connection refused",
                // The worker left the class out and the deadline unknown: classified here, no Will-Retry-Until.
                "X-Mail-Relay-Failure-Class: other")
                .doesNotContain("a@example.net", "Remote-MTA", "Will-Retry-Until");
    }

    @Test
    void keepsRemoteTextOnOneLineAndTypesItOnce() throws IOException {
        RecipientReport injected = new RecipientReport(Recipient.of("rcpt@example.net"), Action.FAILED, "5.7.1",
                "mx.example.net\r\nBcc: victim@example.com", "smtp;550 5.7.1 no\r\nX-Injected: yes", 0);
        BounceRequest request = new BounceRequest(DsnFixtures.envelope("sender@example.org"), List.of(injected), HOST);
        byte[] dsn = composer.compose(request, framedMessage(), 4, messageLength(), DSN_ID).orElseThrow().message();

        String all = new String(dsn, StandardCharsets.UTF_8);
        assertThat(all).doesNotContain("\r\nBcc:", "\r\nX-Injected:")
                .contains("Diagnostic-Code: smtp; 550 5.7.1 no X-Injected: yes\r\n",
                        "X-Mail-Relay-Failure-Class: policy-block\r\n")
                .doesNotContain("smtp; smtp;");
    }

    @Test
    void returnsHeadersWithCrlfEvenWhenTheOriginalHadBareLineFeeds() throws IOException {
        byte[] original = "Subject: hi\nX-Long: a\n b\nnot a header line\n\nbody\n".getBytes(StandardCharsets.UTF_8);
        byte[] dsn = composer.compose(request("sender@example.org", userUnknown()), original, 0, original.length, DSN_ID)
                .orElseThrow().message();
        String headers = text(((Multipart) parse(dsn).getBody()).getBodyParts().get(2));
        assertThat(headers).isEqualTo("Subject: hi\r\nX-Long: a\r\n b\r\n");
    }

    @Test
    void theNotificationTravelsFromTheNullSenderToTheOriginalSender() {
        Dsn dsn = composer.compose(request("sender@example.org", userUnknown()), framedMessage(), 4, messageLength(), DSN_ID)
                .orElseThrow();
        Envelope e = DsnEnvelope.of(DsnFixtures.envelope("sender@example.org"), dsn, DSN_ID, HOST, 5L);
        assertThat(e.hasNullReversePath()).isTrue();
        assertThat(e.recipients()).containsExactly(Recipient.of("sender@example.org"));
        assertThat(e.body()).isEqualTo(BodyType.SEVEN_BIT);
        assertThat(e.smtpUtf8()).isFalse();
        assertThat(e.dsnReturn()).isNull();
        assertThat(e.envelopeId()).isNull();
        assertThat(e.queueId()).isEqualTo(DSN_ID);
        assertThat(e.arrivedAtMillis()).isEqualTo(5L);

        Dsn eightBit = new Dsn(Dsn.Kind.NON_DELIVERY, "Subject: caf\u00e9\r\n\r\n".getBytes(StandardCharsets.UTF_8));
        Envelope utf8 = DsnEnvelope.of(DsnFixtures.envelope("jos\u00e9@example.org"), eightBit, DSN_ID, HOST, 5L);
        assertThat(utf8.body()).isEqualTo(BodyType.EIGHT_BIT_MIME);
        assertThat(utf8.smtpUtf8()).isTrue();
    }

    @Test
    void reportsSuccessOnlyToThoseWhoAskedForIt() throws IOException {
        RecipientReport notAsked = new RecipientReport(Recipient.of("a@example.net"), Action.DELIVERED, "2.0.0",
                "mx.example.net", "250 2.0.0 Ok", 1L);
        RecipientReport asked = new RecipientReport(new Recipient("b@example.net", null, Set.of(Notify.SUCCESS)),
                Action.DELIVERED, "2.0.0", "mx.example.net", "250 2.0.0 Ok", 1L);
        assertThat(composer.compose(request("s@example.org", notAsked), framedMessage(), 4, messageLength(), DSN_ID))
                .isEmpty();

        Dsn dsn = composer.compose(request("s@example.org", notAsked, asked), framedMessage(), 4, messageLength(), DSN_ID)
                .orElseThrow();
        assertThat(dsn.kind()).isEqualTo(Dsn.Kind.SUCCESS);
        ParsedDsn parsed = new ParsedDsn(dsn.message());
        assertThat(parsed.message.getSubject()).isEqualTo("Successful Mail Delivery Report");
        assertThat(parsed.text(0)).contains("<b@example.net>: delivered; host mx.example.net said: 250 2.0.0 Ok")
                .doesNotContain("a@example.net");
        assertThat(parsed.text(1)).contains("Action: delivered").doesNotContain("X-Mail-Relay-Failure-Class");
    }

    @Test
    void keepsAnAsciiReportAsciiAndTheExplanationInUtf8() throws IOException {
        RecipientReport german = RecipientReport.failed(Recipient.of("rcpt@example.net"), "5.1.1", "mx.example.net",
                "550 5.1.1 Empf\u00e4nger unbekannt", 1L);
        Dsn dsn = composer.compose(request("sender@example.org", german), framedMessage(), 4, messageLength(), DSN_ID)
                .orElseThrow();
        ParsedDsn parsed = new ParsedDsn(dsn.message());
        assertThat(parsed.reportType()).isEqualTo("delivery-status");
        assertThat(parsed.text(1)).contains("Diagnostic-Code: smtp; 550 5.1.1 Empf?nger unbekannt");
        assertThat(parsed.text(0)).contains("Empf\u00e4nger unbekannt");
        assertThat(dsn.smtpUtf8()).isFalse();
    }

    @Test
    void aUtf8AddressMakesTheReportGlobalAndTheNoticeSmtpUtf8() throws IOException {
        // The original was not sent with SMTPUTF8, yet its ORCPT decodes to a UTF-8 address.
        RecipientReport r = RecipientReport.failed(new Recipient("joerg@example.org", "utf-8;j\\x{F6}rg+40example.org",
                Set.of()), "5.1.1", "mx.example.org", "550 5.1.1 unknown", 1L);
        Dsn dsn = composer.compose(request("sender@example.org", r), framedMessage(), 4, messageLength(), DSN_ID)
                .orElseThrow();
        ParsedDsn parsed = new ParsedDsn(dsn.message());
        assertThat(parsed.reportType()).isEqualTo("global-delivery-status");
        assertThat(parsed.partTypes()).containsExactly("text/plain", "message/global-delivery-status",
                "message/global-headers");
        assertThat(parsed.text(1)).contains("Original-Recipient: utf-8;j\u00f6rg@example.org\r\n",
                "Final-Recipient: rfc822; joerg@example.org\r\n");
        assertThat(dsn.smtpUtf8()).isTrue();
        assertThat(DsnEnvelope.of(DsnFixtures.envelope("sender@example.org"), dsn, DSN_ID, HOST, 5L).smtpUtf8()).isTrue();
    }

    @Test
    void anSmtpUtf8OriginalInAsciiGetsGlobalTypesButNeedsNoSmtpUtf8() throws IOException {
        BounceRequest ascii = new BounceRequest(DsnFixtures.envelope("sender@example.org", DsnReturn.HDRS, true),
                List.of(userUnknown()), HOST);
        Dsn dsn = composer.compose(ascii, framedMessage(), 4, messageLength(), DSN_ID).orElseThrow();
        assertThat(new ParsedDsn(dsn.message()).partTypes()).containsExactly("text/plain",
                "message/global-delivery-status", "message/global-headers");
        assertThat(dsn.smtpUtf8()).isFalse();
        assertThat(GoldenDsn.NON_DELIVERY_UTF8.compose().smtpUtf8()).isTrue();
        assertThat(GoldenDsn.NON_DELIVERY.compose().smtpUtf8()).isFalse();
    }

    private static RecipientReport delayed(Recipient r) {
        return new RecipientReport(r, Action.DELAYED, "4.4.1", null, "connect to mx.example.net: Connection refused",
                1_700_000_300_000L);
    }

    private byte[] compose(BounceRequest request) {
        return composer.compose(request, framedMessage(), 4, messageLength(), DSN_ID).orElseThrow().message();
    }

    private static Message parse(byte[] message) throws IOException {
        return new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(message));
    }

    private static String text(Entity part) throws IOException {
        try (InputStream in = ((SingleBody) part.getBody()).getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String unfold(String fields) {
        return fields.replaceAll("\r\n[ \t]+", " ");
    }
}
