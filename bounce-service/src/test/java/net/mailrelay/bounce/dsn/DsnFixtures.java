package net.mailrelay.bounce.dsn;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;

/** A bounce request and original message shared by the composer tests. */
final class DsnFixtures {

    static final String HOST = "relay.example.org";
    static final Clock CLOCK = Clock.fixed(Instant.parse("2023-11-14T22:20:00Z"), ZoneOffset.UTC);
    static final QueueId ORIGINAL_ID = QueueId.of("01HF2Q3R4S5T6V7W8X9Y");
    static final QueueId DSN_ID = QueueId.of("01HF2Q9ZZZZZZZZZZZZZ");

    static final String ORIGINAL_HEADERS = """
            Received: from client.example (client.example [192.0.2.7])
            \tby relay.example.org with ESMTP id 01HF2Q3R4S5T6V7W8X9Y
            From: Sender <sender@example.org>
            To: rcpt@example.net, quiet@example.com
            Subject: Quarterly report
            Message-ID: <abc@example.org>
            """.replace("\n", "\r\n");
    static final String ORIGINAL_BODY = "The secret body text.\r\n";
    static final long ARRIVED = 1_700_000_000_000L;
    static final long LAST_ATTEMPT = 1_700_000_300_000L;
    /** A five-day queue lifetime. */
    static final long GIVE_UP = ARRIVED + 5 * 86_400_000L;
    static final int SIZE_LIMIT = 50_000;

    private DsnFixtures() {
    }

    static Envelope envelope(String sender) {
        return envelope(sender, DsnReturn.HDRS, false);
    }

    static Envelope envelope(String sender, DsnReturn ret, boolean smtpUtf8) {
        return new Envelope(ORIGINAL_ID, sender,
                List.of(Recipient.of("rcpt@example.net"), Recipient.of("quiet@example.com")),
                BodyType.SEVEN_BIT, smtpUtf8, ret, "q3+2Breport", "192.0.2.7", "client.example", null,
                ARRIVED, 3, 0, null);
    }

    static RecipientReport userUnknown() {
        return new RecipientReport(new Recipient("rcpt@example.net", "rfc822;Rcpt+2Balias@example.net", Set.of(Notify.FAILURE)),
                Action.FAILED, "5.1.1", "mx.example.net",
                "550 5.1.1 <rcpt@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
                LAST_ATTEMPT);
    }

    static RecipientReport quietFailure() {
        return new RecipientReport(new Recipient("quiet@example.com", null, Set.of(Notify.NEVER)),
                Action.FAILED, "5.1.1", "mx.example.com", "550 5.1.1 no such user", LAST_ATTEMPT);
    }

    /** A delay warning's report: the last temporary error, its class, and when the relay will give up. */
    static RecipientReport delayed(Recipient r, String status, String remoteMta, String diagnostic, FailureClass why) {
        return new RecipientReport(r, Action.DELAYED, status, remoteMta, diagnostic, LAST_ATTEMPT, GIVE_UP, why);
    }

    static DsnComposer composer() {
        return new DsnComposer(HOST, CLOCK, SIZE_LIMIT);
    }

    /** The original message, unframed. */
    static byte[] original() {
        return (ORIGINAL_HEADERS + "\r\n" + ORIGINAL_BODY).getBytes(StandardCharsets.UTF_8);
    }

    static BounceRequest request(String sender, RecipientReport... reports) {
        return new BounceRequest(envelope(sender), List.of(reports), HOST);
    }

    /** The original message inside a bigger array, so that the offset/length view is exercised. */
    static byte[] framedMessage() {
        return ("JUNK" + ORIGINAL_HEADERS + "\r\n" + ORIGINAL_BODY + "TRAILER").getBytes(StandardCharsets.UTF_8);
    }

    static int messageLength() {
        return framedMessage().length - "JUNK".length() - "TRAILER".length();
    }
}
