package net.mailrelay.bounce.dsn;

import static net.mailrelay.bounce.dsn.DsnFixtures.DSN_ID;
import static net.mailrelay.bounce.dsn.DsnFixtures.LAST_ATTEMPT;
import static net.mailrelay.bounce.dsn.DsnFixtures.delayed;
import static net.mailrelay.bounce.dsn.DsnFixtures.quietFailure;
import static net.mailrelay.bounce.dsn.DsnFixtures.userUnknown;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.DsnReturn;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.Recipient;

/**
 * One golden notice per kind of DSN (as Postfix's bounce/*.ref): the request and original that make
 * it, and what any MIME parser must find in it. The files have LF line endings so that no checkout
 * setting can change them; the notices have CRLF.
 */
enum GoldenDsn {

    NON_DELIVERY("non-delivery.eml", Dsn.Kind.NON_DELIVERY, "delivery-status", "text/rfc822-headers",
            DsnFixtures.request("sender@example.org", userUnknown(), quietFailure()), DsnFixtures.original(),
            new Expected("rfc822; rcpt@example.net", "failed", "5.1.1", "invalid-mailbox")),

    NON_DELIVERY_RETURNING_MESSAGE("non-delivery-full.eml", Dsn.Kind.NON_DELIVERY, "delivery-status", "message/rfc822",
            new BounceRequest(DsnFixtures.envelope("sender@example.org", DsnReturn.FULL, false), List.of(
                    RecipientReport.failed(Recipient.of("rcpt@example.net"), "5.2.2", "mx.example.net",
                            "552 5.2.2 <rcpt@example.net>: Mailbox full", LAST_ATTEMPT),
                    RecipientReport.failed(Recipient.of("quiet@example.com"), "5.7.1", "mx.example.com",
                            "550 5.7.1 Message rejected as spam by Content Filtering", LAST_ATTEMPT)),
                    "worker.example.org"),
            DsnFixtures.original(),
            new Expected("rfc822; rcpt@example.net", "failed", "5.2.2", "mailbox-full"),
            new Expected("rfc822; quiet@example.com", "failed", "5.7.1", "policy-block")),

    // RET=FULL, yet a warning returns headers only: RFC 3461 section 4.3 RET is about failures.
    DELAY("delay.eml", Dsn.Kind.DELAY, "delivery-status", "text/rfc822-headers",
            new BounceRequest(DsnFixtures.envelope("sender@example.org", DsnReturn.FULL, false), List.of(
                    delayed(Recipient.of("rcpt@example.net"), "4.4.3", null,
                            "Host or domain name not found. Name service error for name=example.net type=MX:"
                                    + " Host not found, try again", FailureClass.DNS_FAILURE),
                    delayed(new Recipient("quiet@example.com", null, Set.of(Notify.DELAY)), "4.2.2", "mx.example.com",
                            "452 4.2.2 <quiet@example.com>: Mailbox full", FailureClass.MAILBOX_FULL)),
                    "worker.example.org"),
            DsnFixtures.original(),
            new Expected("rfc822; rcpt@example.net", "delayed", "4.4.3", "dns-failure"),
            new Expected("rfc822; quiet@example.com", "delayed", "4.2.2", "mailbox-full")),

    // The second recipient did not ask for NOTIFY=SUCCESS, so is not in the report.
    SUCCESS_RELAYED("success-relayed.eml", Dsn.Kind.SUCCESS, "delivery-status", "text/rfc822-headers",
            new BounceRequest(DsnFixtures.envelope("sender@example.org", DsnReturn.FULL, false), List.of(
                    new RecipientReport(new Recipient("rcpt@example.net", "rfc822;rcpt@example.net",
                            Set.of(Notify.SUCCESS, Notify.FAILURE)), Action.RELAYED, "2.0.0", "mx.example.net",
                            "250 2.0.0 Ok: queued as 4XyZ", LAST_ATTEMPT),
                    new RecipientReport(Recipient.of("quiet@example.com"), Action.DELIVERED, "2.0.0", "mx.example.com",
                            "250 2.0.0 Ok", LAST_ATTEMPT)),
                    "worker.example.org"),
            DsnFixtures.original(),
            new Expected("rfc822; rcpt@example.net", "relayed", "2.0.0", null)),

    // SMTPUTF8, RET not given: the whole message returns, in RFC 6533 global types throughout.
    NON_DELIVERY_UTF8("non-delivery-utf8.eml", Dsn.Kind.NON_DELIVERY, "global-delivery-status", "message/global",
            new BounceRequest(DsnFixtures.envelope("sender@example.org", null, true), List.of(
                    RecipientReport.failed(new Recipient("j\u00f6rg@example.org", "utf-8;j\\x{F6}rg@example.org", Set.of()),
                            "5.1.1", "mx.example.org", "550 5.1.1 <j\u00f6rg@example.org>: Benutzer unbekannt",
                            LAST_ATTEMPT),
                    RecipientReport.failed(Recipient.of("rcpt@example.net"), "5.4.6", null,
                            "mail forwarding loop for rcpt@example.net", LAST_ATTEMPT)),
                    "worker.example.org"),
            ("""
                    Received: from client.example (client.example [192.0.2.7])
                    \tby relay.example.org with ESMTP id 01HF2Q3R4S5T6V7W8X9Y
                    From: Sender <sender@example.org>
                    To: J\u00f6rg <j\u00f6rg@example.org>, rcpt@example.net
                    Subject: Gr\u00fc\u00dfe
                    Message-ID: <utf8@example.org>
                    MIME-Version: 1.0
                    Content-Type: text/plain; charset=utf-8
                    Content-Transfer-Encoding: 8bit

                    Hallo J\u00f6rg!
                    """).replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8),
            new Expected("utf-8; j\u00f6rg@example.org", "failed", "5.1.1", "invalid-mailbox"),
            new Expected("rfc822; rcpt@example.net", "failed", "5.4.6", "routing-loop"));

    /** The fields a parser must find in one per-recipient block. failureClass null: none. */
    record Expected(String finalRecipient, String action, String status, String failureClass) {
    }

    private static final Path DIRECTORY = Path.of("src/test/resources/golden");

    final String file;
    final Dsn.Kind kind;
    final String reportType;
    final String returnedType;
    final BounceRequest request;
    final byte[] original;
    final List<Expected> recipients;

    GoldenDsn(String file, Dsn.Kind kind, String reportType, String returnedType, BounceRequest request,
            byte[] original, Expected... recipients) {
        this.file = file;
        this.kind = kind;
        this.reportType = reportType;
        this.returnedType = returnedType;
        this.request = request;
        this.original = original;
        this.recipients = List.of(recipients);
    }

    String statusType() {
        return "message/" + reportType;
    }

    Dsn compose() {
        return DsnFixtures.composer().compose(request, original, 0, original.length, DSN_ID).orElseThrow();
    }

    Path path() {
        return DIRECTORY.resolve(file);
    }

    /** The golden notice as it travels: CRLF line endings. */
    byte[] golden() {
        try {
            return Files.readString(path(), StandardCharsets.UTF_8).replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void update(byte[] actual) throws IOException {
        Files.writeString(path(), new String(actual, StandardCharsets.UTF_8).replace("\r\n", "\n"), StandardCharsets.UTF_8);
    }
}
