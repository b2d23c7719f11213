package net.mailrelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.FailureClassifier;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.smtp.AddressSyntaxException;
import net.mailrelay.protocol.smtp.CommandLine;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.Mailbox;
import net.mailrelay.protocol.smtp.PathArgument;

/**
 * Coverage-guided fuzz targets (Jazzer) for the parsers in this module that read network or queue
 * input. Under {@code mvn verify} each runs its saved inputs (src/test/resources/.../ProtocolFuzzTestInputs)
 * as regression tests; {@code deploy/fuzz/run} fuzzes them for real (docs/fuzzing.md).
 */
class ProtocolFuzzTest {

    /** MAIL FROM: / RCPT TO: arguments: parsed, or refused with a reason; never anything else. */
    @FuzzTest
    void pathArgument(FuzzedDataProvider data) {
        boolean allowNull = data.consumeBoolean();
        String argument = data.consumeRemainingAsString();
        PathArgument p;
        try {
            p = PathArgument.parse(argument, allowNull);
        } catch (AddressSyntaxException e) {
            assertThat(e.getMessage()).isNotBlank();
            return;
        }
        if (p.mailbox() == null) {
            assertThat(allowNull).isTrue();
            return;
        }
        Mailbox m = p.mailbox();
        // Whatever was accepted can be written into a header or a log line: no line breaks, no NUL.
        assertThat(m.toString()).doesNotContain("\r", "\n", "\0");
        assertThat(m.domain()).isNotEmpty();
        assertThat(m.localPart()).isNotEmpty();
        p.parameters().forEach((k, v) -> assertThat(k).matches("[A-Z0-9-]+"));
    }

    /** Any command line splits into a verb and an argument. */
    @FuzzTest
    void commandLine(FuzzedDataProvider data) {
        String line = data.consumeRemainingAsString();
        CommandLine c = CommandLine.parse(line);
        assertThat(c.verb()).isNotNull();
        assertThat(c.argument()).isNotNull();
    }

    /** A record read from Kafka is decoded or refused as malformed; no other exception reaches the consumer. */
    @FuzzTest
    void record(FuzzedDataProvider data) {
        byte[] value = data.consumeRemainingAsBytes();
        try {
            RecordCodec.Decoded<Envelope> d = RecordCodec.decode(value, Envelope.class);
            assertThat(d.messageOffset()).isBetween(5, value.length);
            assertThat(d.messageLength()).isNotNegative();
        } catch (RecordCodec.MalformedRecordException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
        try {
            RecordCodec.decode(value, BounceRequest.class);
        } catch (RecordCodec.MalformedRecordException e) {
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    /** Remote reply text of any shape: its leading enhanced status is found or not, and it is classified. */
    @FuzzTest
    void replyText(FuzzedDataProvider data) {
        String text = data.consumeRemainingAsString();
        EnhancedStatus leading = EnhancedStatus.leadingIn(text);
        String status = leading != null ? leading.toString() : "4.0.0";
        assertThat(FailureClassifier.classify(status, text)).isNotNull();
    }
}
