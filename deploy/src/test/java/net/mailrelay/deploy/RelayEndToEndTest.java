package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole path on a real broker: an SMTP client talks to the edge, the worker finds each domain's MX
 * through a real DNS responder and delivers to fake MX servers on their own loopback addresses, and a
 * permanent failure comes back to the sender's own MX as a DSN. The three roles run as separate
 * processes would, each wired by {@link RelayProcess} from {@link Settings}.
 */
@ExtendWith(KafkaFixture.class)
class RelayEndToEndTest {

    @RegisterExtension
    static final DnsResponder DNS = new DnsResponder();
    @RegisterExtension
    static final FakeMx ONE = new FakeMx("mx.one.test", ip("127.0.0.2"), 0);
    static FakeMx two;
    static FakeMx sender;
    /** Answers every RCPT with a 550 of 56 KB (issue 29). */
    static FakeMx hostile;
    static ThreeRoles relay;
    static RelayProcess edge;

    static InetAddress ip(String s) {
        return ThreeRoles.ip(s);
    }

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        // Every MX listens on the same port on its own address, as real MX hosts all listen on 25.
        two = (FakeMx) new FakeMx("mx.two.test", ip("127.0.0.3"), ONE.port()).start();
        sender = (FakeMx) new FakeMx("mx.sender.test", ip("127.0.0.4"), ONE.port()).start();
        hostile = (FakeMx) new FakeMx("mx.hostile.test", ip("127.0.0.6"), ONE.port()).start();
        DNS.mx("one.test", 10, "mx.one.test").address("mx.one.test", "127.0.0.2")
                .mx("two.test", 10, "mx.two.test").address("mx.two.test", "127.0.0.3")
                .mx("sender.test", 10, "mx.sender.test").address("mx.sender.test", "127.0.0.4")
                .mx("dead.test", 10, "mx.dead.test").address("mx.dead.test", "127.0.0.5")
                .mx("hostile.test", 10, "mx.hostile.test").address("mx.hostile.test", "127.0.0.6");
        relay = ThreeRoles.start(kafka, DNS, ONE.port(), "e2e" + UUID.randomUUID().toString().substring(0, 6) + ".", 5801,
                Map.of("queue.max-lifetime", "8s", "dsn.delay-warning", "3s"));
        edge = relay.edge;
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {relay, two, sender, hostile}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    static String send(String from, List<String> to, String message) {
        return relay.send(from, to, message);
    }

    @Test
    void eachDomainGetsTheMessageOnceWithTheBodyUnchanged() {
        String body = "From: alice@sender.test\r\nSubject: two domains\r\n\r\nline one\r\n.leading dot\r\n\u00e9t\u00e9\r\n";
        String id = send("alice@sender.test", List.of("bob@one.test", "carol@two.test"), body);
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> !ONE.deliveriesTo("bob@one.test").isEmpty() && !two.deliveriesTo("carol@two.test").isEmpty());
        for (FakeMx.Delivery d : List.of(ONE.deliveriesTo("bob@one.test").get(0), two.deliveriesTo("carol@two.test").get(0))) {
            assertThat(d.mailFrom()).isEqualTo("alice@sender.test");
            assertThat(d.heloName()).isEqualTo("relay.test");
            String text = d.text();
            assertThat(text).startsWith("Received: from client.test ([127.0.0.1])\r\n\tby relay.test (mail-relay) with ESMTP id " + id);
            byte[] original = body.getBytes(StandardCharsets.UTF_8);
            byte[] tail = java.util.Arrays.copyOfRange(d.data(), d.data().length - original.length, d.data().length);
            assertThat(tail).isEqualTo(original);
        }
        Awaitility.await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() ->
                ONE.deliveriesTo("bob@one.test").size() == 1 && two.deliveriesTo("carol@two.test").size() == 1);
    }

    @Test
    void aRejectedRecipientComesBackToTheSenderAsADsn() throws Exception {
        String id = send("alice@sender.test", List.of("permfail@two.test", "dave@two.test"), "Subject: will bounce\r\n\r\nhello\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> sender.deliveriesTo("alice@sender.test").stream()
                .anyMatch(d -> d.text().contains(id)));
        FakeMx.Delivery dsn = sender.deliveriesTo("alice@sender.test").stream().filter(d -> d.text().contains(id))
                .findFirst().orElseThrow();
        assertThat(dsn.mailFrom()).isEmpty();
        Message m = new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(dsn.data()));
        assertThat(m.getMimeType()).isEqualTo("multipart/report");
        assertThat(m.getHeader().getField("Content-Type").getBody()).contains("report-type=delivery-status");
        assertThat(m.getHeader().getField("Auto-Submitted").getBody()).isEqualTo("auto-replied");
        List<Entity> parts = ((Multipart) m.getBody()).getBodyParts();
        assertThat(parts).extracting(Entity::getMimeType)
                .containsExactly("text/plain", "message/delivery-status", "message/rfc822");
        String status = new String(((SingleBody) parts.get(1).getBody()).getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(status).contains("Final-Recipient: rfc822; permfail@two.test").contains("Action: failed")
                .contains("Status: 5.1.1").contains("Diagnostic-Code: smtp; 550 5.1.1").doesNotContain("dave@two.test");
        // No RET given: the whole original comes back, as Postfix returns it.
        Message original = (Message) parts.get(2).getBody();
        assertThat(original.getSubject()).isEqualTo("will bounce");
        assertThat(new String(((SingleBody) original.getBody()).getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                .isEqualTo("hello\r\n");
        assertThat(two.deliveriesTo("dave@two.test")).hasSize(1);
    }

    @Test
    void mailForADeadDestinationIsWarnedAboutOnceThenComesBackOnceAfterItsLifetime() throws Exception {
        String id = send("alice@sender.test", List.of("nobody@dead.test"), "Subject: into the void\r\n\r\nhello?\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(40)).until(() -> dsnsAbout("nobody@dead.test").stream()
                .anyMatch(d -> d.text().contains("Action: failed")));
        Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(6))
                .until(() -> dsnsAbout("nobody@dead.test").size() == 2);
        List<FakeMx.Delivery> dsns = dsnsAbout("nobody@dead.test");
        assertThat(dsns).filteredOn(d -> d.text().contains("Action: delayed")).singleElement()
                .satisfies(d -> assertThat(d.text()).contains("Status: 4.").contains("Will-Retry-Until: "));
        assertThat(dsns).filteredOn(d -> d.text().contains("Action: failed")).singleElement()
                .satisfies(d -> assertThat(d.text()).contains("Final-Recipient: rfc822; nobody@dead.test")
                        .contains("Status: 4.4.7").contains(id));
    }

    static List<FakeMx.Delivery> dsnsAbout(String recipient) {
        return sender.deliveriesTo("alice@sender.test").stream().filter(d -> d.mailFrom().isEmpty())
                .filter(d -> d.text().contains(recipient)).toList();
    }

    /** MAIL and RCPT with their parameters as given, then the message. */
    static String sendRaw(String mail, String rcpt, String message) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
            c.expect("220");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send(mail);
            c.expect("250");
            c.send(rcpt);
            c.expect("250");
            c.send("DATA");
            c.expect("354");
            c.sendRaw((message + ".\r\n").getBytes(StandardCharsets.UTF_8));
            return c.expect("250 2.0.0 Ok: queued as ").get(0);
        }
    }

    @Test
    void noDsnForNotifyNeverNorForTheNullSender() {
        sendRaw("MAIL FROM:<alice@sender.test>", "RCPT TO:<permfail-never@two.test> NOTIFY=NEVER", "Subject: quiet\r\n\r\nx\r\n");
        sendRaw("MAIL FROM:<>", "RCPT TO:<permfail-null@two.test>", "Subject: a bounce itself\r\n\r\nx\r\n");
        String marker = send("alice@sender.test", List.of("permfail-marker@two.test"), "Subject: marker\r\n\r\nx\r\n");
        // The marker's DSN comes through the same path after the other two were decided.
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !dsnsAbout("permfail-marker@two.test").isEmpty());
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> two.timesOffered("permfail-never@two.test") == 1 && two.timesOffered("permfail-null@two.test") == 1);
        assertThat(dsnsAbout("permfail-never@two.test")).isEmpty();
        assertThat(dsnsAbout("permfail-null@two.test")).isEmpty();
        assertThat(marker).isNotBlank();
    }

    @Test
    void successIsReportedWhenAskedForAndTheNextHopCannotReportIt() {
        String id = sendRaw("MAIL FROM:<alice@sender.test>", "RCPT TO:<pleased@one.test> NOTIFY=SUCCESS",
                "Subject: tell me\r\n\r\nx\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !dsnsAbout("pleased@one.test").isEmpty());
        assertThat(dsnsAbout("pleased@one.test")).singleElement().satisfies(d ->
                assertThat(d.text()).contains("Action: relayed").contains("Status: 2.").contains(id.substring(id.lastIndexOf(' ') + 1)));
    }

    @Test
    void anAddressThatBouncedAsUnknownIsSuppressed() {
        send("alice@sender.test", List.of("permfail-gone@two.test"), "Subject: first\r\n\r\nx\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> dsnsAbout("permfail-gone@two.test").size() == 1);
        // The cache follows the suppression topic; once it has the entry, new mail fails without being offered.
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            send("alice@sender.test", List.of("permfail-gone@two.test"), "Subject: again\r\n\r\nx\r\n");
            return dsnsAbout("permfail-gone@two.test").stream().anyMatch(d -> d.text().contains("suppressed"));
        });
        assertThat(two.timesOffered("permfail-gone@two.test")).isLessThan(dsnsAbout("permfail-gone@two.test").size());
    }

    @Test
    void aTemporaryFailureIsDeliveredAfterTheRetry() {
        send("alice@sender.test", List.of("flaky-e2e@one.test"), "Subject: retry me\r\n\r\nlater\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !ONE.deliveriesTo("flaky-e2e@one.test").isEmpty());
        assertThat(ONE.timesOffered("flaky-e2e@one.test")).isEqualTo(2);
        assertThat(ONE.deliveriesTo("flaky-e2e@one.test")).hasSize(1);
        assertThat(sender.deliveriesTo("alice@sender.test")).noneMatch(d -> d.text().contains("flaky-e2e"));
    }

    /**
     * Issue 29: a remote MX that answers each of 600 RCPTs with a 56 KB 550. Every recipient's report kept
     * its whole reply, so the bounce request was some 34 MB, more than the broker takes, and it was sent
     * again for ever with its partition waiting. Now each reply is kept to 2 KiB: the sender gets its DSN,
     * listing every recipient, and later mail flows.
     */
    @Test
    void anMxAnsweringEveryRcptWith56KbStillBouncesOnceAndLaterMailFlows() {
        StringBuilder reply = new StringBuilder();
        for (int line = 0; line < 56; line++) {
            reply.append("550-5.7.1 ").append("h".repeat(1_000)).append("\r\n");
        }
        reply.append("550 5.7.1 go away");
        List<String> recipients = new java.util.ArrayList<>();
        for (int i = 0; i < 600; i++) {
            recipients.add("victim" + i + "@hostile.test");
            hostile.replyToRecipient("victim" + i + "@hostile.test", reply.toString());
        }
        String id = send("alice@sender.test", recipients, "Subject: to a hostile MX\r\n\r\nhello\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> sender.deliveriesTo("alice@sender.test").stream()
                .anyMatch(d -> d.text().contains(id)));
        List<FakeMx.Delivery> dsns = sender.deliveriesTo("alice@sender.test").stream().filter(d -> d.text().contains(id)).toList();
        assertThat(dsns).as("one DSN").hasSize(1);
        String dsn = dsns.get(0).text();
        assertThat(recipients).allSatisfy(r -> assertThat(dsn).contains("Final-Recipient: rfc822; " + r + "\r\n"));
        String unfolded = dsn.replace("\r\n ", " ");
        assertThat(unfolded).contains("Diagnostic-Code: smtp; 550 5.7.1 hhhh").contains("bytes, cut)");
        assertThat(dsn.length()).as("bounded").isLessThan(4 * 1024 * 1024);

        String later = send("alice@sender.test", List.of("after-hostile@one.test"), "Subject: later\r\n\r\nstill flowing\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ONE.deliveriesTo("after-hostile@one.test").stream()
                .anyMatch(d -> d.text().contains(later)));
    }
}
