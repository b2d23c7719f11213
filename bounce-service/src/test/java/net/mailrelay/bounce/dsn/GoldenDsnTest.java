package net.mailrelay.bounce.dsn;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.james.mime4j.dom.Header;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every kind of notice against its golden file, then parsed back with mime4j and its fields checked.
 * Run with -Dgolden.update=true to rewrite the files after an intended change, and review the diff.
 */
class GoldenDsnTest {

    @ParameterizedTest
    @EnumSource(GoldenDsn.class)
    void matchesItsGoldenFile(GoldenDsn golden) throws IOException {
        byte[] actual = golden.compose().message();
        String text = new String(actual, StandardCharsets.UTF_8);
        assertThat(text.replace("\r\n", "")).doesNotContain("\r", "\n");
        if (Boolean.getBoolean("golden.update")) {
            golden.update(actual);
        }
        assertThat(text).isEqualTo(new String(golden.golden(), StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @EnumSource(GoldenDsn.class)
    void parsesBackAsAReportOfItsKind(GoldenDsn golden) throws IOException {
        ParsedDsn dsn = new ParsedDsn(golden.golden());

        assertThat(dsn.message.getMimeType()).isEqualTo("multipart/report");
        assertThat(dsn.reportType()).isEqualTo(golden.reportType);
        assertThat(dsn.message.getSubject()).isEqualTo(golden.kind.subject());
        assertThat(dsn.message.getFrom().get(0).getAddress()).isEqualTo("MAILER-DAEMON@" + DsnFixtures.HOST);
        assertThat(dsn.message.getTo().flatten().get(0).getAddress()).isEqualTo("sender@example.org");
        assertThat(dsn.message.getHeader().getField("Auto-Submitted").getBody()).isEqualTo("auto-replied");
        assertThat(dsn.partTypes()).containsExactly("text/plain", golden.statusType(), golden.returnedType);
        assertThat(dsn.text(0)).startsWith("This is the mail system at host " + DsnFixtures.HOST + ".");
    }

    @ParameterizedTest
    @EnumSource(GoldenDsn.class)
    void reportsEveryRecipientWithItsFields(GoldenDsn golden) throws IOException {
        List<Map<String, String>> blocks = new ParsedDsn(golden.golden()).statusBlocks();

        Map<String, String> perMessage = blocks.get(0);
        assertThat(perMessage.get("Reporting-MTA")).isEqualTo("dns; " + golden.request.reportingMta());
        assertThat(perMessage.get("Original-Envelope-Id")).isEqualTo("q3+report");
        assertThat(perMessage.get("Arrival-Date")).isEqualTo("Tue, 14 Nov 2023 22:13:20 +0000");

        List<Map<String, String>> recipients = blocks.subList(1, blocks.size());
        assertThat(recipients).hasSameSizeAs(golden.recipients);
        for (int i = 0; i < recipients.size(); i++) {
            Map<String, String> fields = recipients.get(i);
            GoldenDsn.Expected expected = golden.recipients.get(i);
            assertThat(fields.get("Final-Recipient")).isEqualTo(expected.finalRecipient());
            assertThat(fields.get("Action")).isEqualTo(expected.action());
            assertThat(fields.get("Status")).isEqualTo(expected.status());
            assertThat(fields.get(DeliveryStatus.FAILURE_CLASS_FIELD)).isEqualTo(expected.failureClass());
            assertThat(fields.get("Last-Attempt-Date")).isEqualTo("Tue, 14 Nov 2023 22:18:20 +0000");
            // Five days after arrival, for delays only.
            assertThat(fields.get("Will-Retry-Until"))
                    .isEqualTo(golden.kind == Dsn.Kind.DELAY ? "Sun, 19 Nov 2023 22:13:20 +0000" : null);
        }
    }

    @ParameterizedTest
    @EnumSource(GoldenDsn.class)
    void returnsTheMessageOrItsHeadersAsTheSenderAsked(GoldenDsn golden) throws IOException {
        ParsedDsn dsn = new ParsedDsn(golden.golden());
        String subject = new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(golden.original)).getSubject();

        switch (golden.returnedType) {
            // mime4j parses an attached message/rfc822 into a message of its own.
            case "message/rfc822" -> {
                Message returned = (Message) dsn.parts.get(2).getBody();
                assertThat(returned.getSubject()).isEqualTo(subject);
                assertThat(returned.getMessageId()).isEqualTo("<abc@example.org>");
            }
            case "message/global" -> {
                byte[] returned = ParsedDsn.bytes(dsn.parts.get(2));
                assertThat(returned).isEqualTo(golden.original);
                assertThat(new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(returned)).getSubject())
                        .isEqualTo("Gr\u00fc\u00dfe");
            }
            default -> {
                Header headers = new DefaultMessageBuilder().parseHeader(
                        new ByteArrayInputStream(ParsedDsn.bytes(dsn.parts.get(2))));
                assertThat(headers.getField("Subject").getBody()).isEqualTo(subject);
                assertThat(dsn.text(2)).doesNotContain("secret body");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(GoldenDsn.class)
    void explainsInPlainWords(GoldenDsn golden) throws IOException {
        String text = new ParsedDsn(golden.golden()).text(0).replaceAll("\r\n *", " ");
        switch (golden.kind) {
            case NON_DELIVERY -> assertThat(text).contains("could not be delivered to one or more recipients",
                    golden.returnedType.endsWith("headers") ? "Its headers are attached below." : "It's attached below.");
            case DELAY -> assertThat(text).contains(
                    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
                    "Delivery to the following recipients was delayed.",
                    "until Sun, 19 Nov 2023 22:13:20 +0000.");
            case SUCCESS -> assertThat(text).contains("successfully delivered",
                    "<rcpt@example.net>: relayed to a system that does not report delivery status; host"
                            + " mx.example.net said: 250 2.0.0 Ok: queued as 4XyZ")
                    .doesNotContain("quiet@example.com", "Reason:");
        }
        for (GoldenDsn.Expected r : golden.recipients) {
            String address = r.finalRecipient().substring(r.finalRecipient().indexOf(' ') + 1);
            assertThat(text).contains("<" + address + ">: ");
        }
        golden.request.reports().stream()
                .filter(r -> r.failureClass() != null && DsnComposer.wanted(r))
                .forEach(r -> assertThat(text).contains("Reason: " + r.failureClass().meaning() + "."));
    }
}
