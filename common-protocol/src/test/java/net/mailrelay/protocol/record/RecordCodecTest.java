package net.mailrelay.protocol.record;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import org.junit.jupiter.api.Test;

class RecordCodecTest {

    static Envelope envelope() {
        return new Envelope(QueueId.of("0123ABCDEF0123ABCDEF"), "sender@example.org",
                List.of(new Recipient("rcpt@example.net", "rfc822;rcpt@example.net", Set.of(Notify.FAILURE, Notify.DELAY)),
                        Recipient.of("other@example.com")),
                BodyType.EIGHT_BIT_MIME, true, DsnReturn.HDRS, "env-1", "192.0.2.7", "client.example", null,
                1_700_000_000_000L, 2, 1_700_000_300_000L, "451 4.3.0 later");
    }

    @Test
    void roundTripsAnEnvelopeAndKeepsTheMessageBytesExactly() {
        byte[] message = "Subject: x\r\n\r\n\u00e9\u0000\r\n.\r\n".getBytes(StandardCharsets.ISO_8859_1);
        byte[] value = RecordCodec.encode(envelope(), message, 0, message.length);
        RecordCodec.Decoded<Envelope> d = RecordCodec.decode(value, Envelope.class);
        assertThat(d.metadata()).isEqualTo(envelope());
        assertThat(d.messageCopy()).isEqualTo(message);
        assertThat(d.messageLength()).isEqualTo(message.length);
    }

    @Test
    void headPlusMessageIsTheSameAsEncode() {
        byte[] message = "hello\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] head = RecordCodec.head(envelope());
        byte[] joined = new byte[head.length + message.length];
        System.arraycopy(head, 0, joined, 0, head.length);
        System.arraycopy(message, 0, joined, head.length, message.length);
        assertThat(joined).isEqualTo(RecordCodec.encode(envelope(), message, 0, message.length));
    }

    @Test
    void roundTripsBounceRequestsAndEvents() {
        BounceRequest b = new BounceRequest(envelope(), List.of(new RecipientReport(Recipient.of("x@example.net"),
                Action.FAILED, "5.1.1", "mx.example.net", "smtp; 550 5.1.1 no such user", 5L)), "relay.example");
        assertThat(RecordCodec.decode(RecordCodec.encode(b), BounceRequest.class).metadata()).isEqualTo(b);
        DeliveryEvent e = new DeliveryEvent(QueueId.of("ABC"), "x@example.net", DeliveryEvent.Outcome.DELIVERED, 1, 5L,
                "mx", "127.0.0.1:25", "250 ok", "2.0.0", 12, "TLSv1.3 TLS_AES_128_GCM_SHA256", null);
        assertThat(RecordCodec.decode(RecordCodec.encode(e), DeliveryEvent.class).metadata()).isEqualTo(e);
    }

    @Test
    void ignoresFieldsAddedByNewerWritersOfTheSameVersion() {
        byte[] json = "{\"queueId\":\"ABC\",\"recipient\":\"x@y\",\"outcome\":\"DELIVERED\",\"future\":1}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] value = new byte[5 + json.length];
        value[0] = 1;
        value[4] = (byte) json.length;
        System.arraycopy(json, 0, value, 5, json.length);
        assertThat(RecordCodec.decode(value, DeliveryEvent.class).metadata().recipient()).isEqualTo("x@y");
    }

    @Test
    void rejectsOtherVersionsAndTruncatedRecords() {
        byte[] value = RecordCodec.encode(envelope());
        value[0] = 9;
        assertThatThrownBy(() -> RecordCodec.decode(value, Envelope.class))
                .isInstanceOf(RecordCodec.MalformedRecordException.class).hasMessageContaining("version 9");
        assertThatThrownBy(() -> RecordCodec.decode(new byte[] {1, 0, 0, 1, 0}, Envelope.class))
                .isInstanceOf(RecordCodec.MalformedRecordException.class);
        assertThatThrownBy(() -> RecordCodec.decode(new byte[] {1, 0, 0, 0, 2, '{', '}'}, Envelope.class))
                .isInstanceOf(RecordCodec.MalformedRecordException.class);
    }

    @Test
    void namesTopicsAndTiers() {
        Topics t = new Topics("x.");
        assertThat(t.outbound()).isEqualTo("x.mail.outbound");
        assertThat(t.retryTier(Duration.ofMinutes(5))).isEqualTo("x.mail.retry.5m");
        assertThat(t.retryTier(Duration.ofHours(1))).isEqualTo("x.mail.retry.1h");
        assertThat(t.retryTier(Duration.ofSeconds(90))).isEqualTo("x.mail.retry.90s");
        assertThat(t.isRetryTier("x.mail.retry.5m")).isTrue();
        assertThat(Topics.parseDuration("15m")).isEqualTo(Duration.ofMinutes(15));
        assertThatThrownBy(() -> Topics.parseDuration("15")).hasMessageContaining("'15'");
        assertThatThrownBy(() -> new Topics("bad prefix")).hasMessageContaining("bad prefix");
    }
}
