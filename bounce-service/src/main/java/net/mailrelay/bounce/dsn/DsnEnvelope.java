package net.mailrelay.bounce.dsn;

import java.util.List;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;

/** The envelope a notification travels in: from the null sender, to the original sender. */
public final class DsnEnvelope {

    private DsnEnvelope() {
    }

    /**
     * RFC 3461 section 6.2 and RFC 5321 section 4.5.5: a notification is sent with the null reverse
     * path, so that it can never cause another. It asks for no DSN of its own (no RET, no ENVID). It
     * needs SMTPUTF8 when it is addressed to a UTF-8 mailbox or carries UTF-8 addresses or header
     * fields in its report (RFC 6533).
     */
    public static Envelope of(Envelope original, Dsn dsn, QueueId newQueueId, String hostname, long nowMillis) {
        String sender = original.reversePath();
        if (sender.isEmpty()) {
            throw new IllegalArgumentException(original.queueId() + ": the null sender gets no notification");
        }
        return new Envelope(newQueueId, "", List.of(Recipient.of(sender)),
                dsn.isEightBit() ? BodyType.EIGHT_BIT_MIME : BodyType.SEVEN_BIT,
                dsn.smtpUtf8() || !FieldText.isAscii(sender), null, null, "127.0.0.1", hostname, null,
                nowMillis, 0, 0, null);
    }
}
