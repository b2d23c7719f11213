package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLContext;
import net.mailrelay.edge.auth.UsersFile;
import net.mailrelay.edge.dkim.MessageSigning;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.dkim.KeyGeneration;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.Dkimpy;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.OpenDkim;
import net.mailrelay.testing.SmtpTranscript;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who the edge signs, over real sockets into a real broker, with the signatures checked by dkimpy.
 * OpenDKIM checks them too. Two edges share the keys: one trusts loopback (the office network), one trusts nobody (an MX facing
 * the internet, where loopback clients are strangers relaying in to {@code routed.test}).
 */
@ExtendWith(KafkaFixture.class)
class EdgeSigningTest {

    static final SSLContext TLS = SmtpTranscript.trustingTls();
    @TempDir
    static Path dir;
    static final List<String> zone = new ArrayList<>();
    static EdgeReceiver trusting;
    static EdgeReceiver mx;
    static TopicReader outbound;

    @BeforeAll
    static void start(KafkaBroker broker) throws Exception {
        Path keys = dir.resolve("keys");
        zone.add(KeyGeneration.generate(keys, "example.org", "r1", "rsa", 2048).dnsRecord());
        zone.add(KeyGeneration.generate(keys, "example.org", "e1", "ed25519", 0).dnsRecord());
        zone.add(KeyGeneration.generate(keys, "other.org", "r1", "rsa", 1024).dnsRecord());
        Path users = dir.resolve("users");
        UsersFile.add(users, "alice", "alice pw".toCharArray());
        UsersFile.add(users, "bob", "bob pw".toCharArray());
        Topics topics = broker.freshTopics(List.of());
        trusting = edge(broker, topics, keys, users, List.of(Cidr.parse("127.0.0.0/8")));
        mx = edge(broker, topics, keys, users, List.of());
        outbound = new TopicReader(broker, topics.outbound());
    }

    static EdgeReceiver edge(KafkaBroker broker, Topics topics, Path keys, Path users, List<Cidr> trusted) throws Exception {
        TestEdges t = new TestEdges(broker.bootstrapServers(), topics)
                .listen(ListenerPolicy.forMx(true)).listen(ListenerPolicy.forSubmissions());
        t.trusted = trusted;
        t.usersFile = users;
        t.dkimKeys = DkimKeys.load(keys, DkimKeys.Settings.defaults()).withSubdomains(Set.of("example.org"));
        t.dkimRules = new MessageSigning.Rules(true, Map.of("alice", Set.of("other.org")));
        return t.start(ClientGuard.NONE);
    }

    @AfterAll
    static void stop() {
        outbound.close();
        trusting.close();
        mx.close();
    }

    static String message(String from) {
        return "From: Someone <" + from + ">\r\nTo: x@routed.test\r\nSubject: signed?\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
                + "Message-ID: <" + System.nanoTime() + "@example.org>\r\n\r\nHello,\r\n\r\n  a body  with spaces \r\n\r\n";
    }

    static byte[] viaMx(EdgeReceiver edge, String from) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.address("smtp").getPort())) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            return published(c.sendMessage(from, List.of("x@routed.test"), message(from)));
        }
    }

    static byte[] submitted(String user, String password, String from) {
        try (SmtpTranscript c = SmtpTranscript.connectTls("127.0.0.1", mx.address("submissions").getPort(), TLS)) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("AUTH PLAIN " + Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8)));
            c.expect("235 ");
            return published(c.sendMessage(from, List.of("y@far-away.test"), message(from)));
        }
    }

    static byte[] published(String reply) {
        return record(reply).messageCopy();
    }

    static RecordCodec.Decoded<Envelope> record(String reply) {
        assertThat(reply).startsWith("250 2.0.0 Ok: queued as");
        String id = reply.substring(reply.lastIndexOf(' ') + 1);
        ConsumerRecord<String, byte[]> r = outbound.awaitAny(x -> x.key().equals(id), Duration.ofSeconds(30)).stream()
                .filter(x -> x.key().equals(id)).findFirst().orElseThrow();
        return RecordCodec.decode(r.value(), Envelope.class);
    }

    static RecordCodec.Decoded<Envelope> relayed(String message) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", trusting.address("smtp").getPort())) {
            c.expect("220 ");
            c.send("EHLO client.test");
            c.expect("250 ");
            return record(c.sendMessage("a@example.org", List.of("x@routed.test"), message));
        }
    }

    @Test
    void theEnvelopeRecordsTheSignaturesAdded() {
        RecordCodec.Decoded<Envelope> r = relayed(message("a@example.org"));
        assertThat(r.metadata().dkim()).containsExactlyInAnyOrder("d=example.org s=r1 a=rsa-sha256",
                "d=example.org s=e1 a=ed25519-sha256");
        assertThat(relayed(message("a@unkeyed.test")).metadata().dkim()).isEmpty();
    }

    @Test
    void aMessageSignedAlreadyWithAKeyIsNotSignedWithItAgain() throws Exception {
        String once = new String(viaMx(trusting, "a@example.org"), StandardCharsets.US_ASCII);
        // Through the relay a second time (a loop, or an application that signs itself): nothing added.
        RecordCodec.Decoded<Envelope> twice = relayed(once);
        String text = new String(twice.messageCopy(), StandardCharsets.US_ASCII);
        assertThat(text.split("DKIM-Signature: ")).hasSize(3);
        assertThat(twice.metadata().dkim()).isEmpty();
        assertThat(Dkimpy.verify(twice.messageCopy(), zone)).isEqualTo("pass pass");

        // Only the Ed25519 signature is missing: only it is added. The selector must match, case and all
        // aside from the domain's, and folding whitespace inside the tags does not hide a signature.
        int ed = once.indexOf("DKIM-Signature: v=1;\r\n\ta=ed25519-sha256");
        assertThat(ed).isNotNegative();
        int next = ed;
        do {
            next = once.indexOf("\r\n", next) + 2;
        } while (once.charAt(next) == '\t' || once.charAt(next) == ' ');
        String rsaOnly = once.substring(0, ed) + once.substring(next);
        assertThat(rsaOnly).contains("a=rsa-sha256").doesNotContain("a=ed25519-sha256");
        RecordCodec.Decoded<Envelope> completed = relayed(rsaOnly.replace("d=example.org;", "d=\r\n\tExample.Org;"));
        assertThat(completed.metadata().dkim()).containsExactly("d=example.org s=e1 a=ed25519-sha256");
        assertThat(new String(completed.messageCopy(), StandardCharsets.US_ASCII).split("DKIM-Signature: ")).hasSize(3);
    }

    @Test
    void aTrustedClientIsSignedWithBothKeysAndBothVerify() throws Exception {
        byte[] m = viaMx(trusting, "a@Example.ORG");
        String text = new String(m, StandardCharsets.US_ASCII);
        String head = text.substring(0, text.indexOf("\r\nReceived: "));
        assertThat(head.split("DKIM-Signature: ")).hasSize(3);
        assertThat(head).startsWith("DKIM-Signature: ").contains("a=rsa-sha256;", "a=ed25519-sha256;", "s=r1;", "s=e1;")
                .contains("c=relaxed/relaxed;", "d=example.org;", "h=from:from:subject:date:message-id:to;")
                .containsPattern("t=\\d{10};");
        assertThat(Dkimpy.verify(m, zone)).isEqualTo("pass pass");
        assertThat(OpenDkim.verify(m, zone)).isEqualTo("pass pass");

        byte[] changed = text.replace("a body  with", "a body with").getBytes(StandardCharsets.US_ASCII);
        assertThat(Dkimpy.verify(changed, zone)).as("whitespace is relaxed, so this still verifies").isEqualTo("pass pass");
        assertThat(OpenDkim.verify(changed, zone)).isEqualTo("pass pass");
        changed = text.replace("Hello,", "Hullo,").getBytes(StandardCharsets.US_ASCII);
        assertThat(Dkimpy.verify(changed, zone)).isEqualTo("fail fail");
        assertThat(OpenDkim.verify(changed, zone)).isEqualTo("fail fail");
    }

    @Test
    void mailRelayedInByAStrangerIsNeverSignedEvenFromOurOwnDomain() throws Exception {
        byte[] m = viaMx(mx, "a@example.org");
        assertThat(new String(m, StandardCharsets.US_ASCII)).doesNotContainIgnoringCase("DKIM-Signature");
        assertThat(Dkimpy.verify(m, zone)).isEqualTo("none");
    }

    @Test
    void anAuthenticatedUserIsSignedOnAnEdgeThatTrustsNobody() throws Exception {
        assertThat(Dkimpy.verify(submitted("bob", "bob pw", "bob@example.org"), zone)).isEqualTo("pass pass");
    }

    @Test
    void aUserNarrowedToOneDomainIsSignedOnlyForIt() throws Exception {
        assertThat(Dkimpy.verify(submitted("alice", "alice pw", "alice@other.org"), zone)).isEqualTo("pass");
        byte[] m = submitted("alice", "alice pw", "alice@example.org");
        assertThat(new String(m, StandardCharsets.US_ASCII)).doesNotContainIgnoringCase("DKIM-Signature");
    }

    @Test
    void aSubdomainIsSignedByItsParentsKeysWhereTheyAreListed() throws Exception {
        RecordCodec.Decoded<Envelope> r = relayed(message("news@Lists.Example.org"));
        assertThat(r.metadata().dkim()).containsExactlyInAnyOrder("d=example.org s=r1 a=rsa-sha256",
                "d=example.org s=e1 a=ed25519-sha256");
        assertThat(Dkimpy.verify(r.messageCopy(), zone)).isEqualTo("pass pass");
        assertThat(OpenDkim.verify(r.messageCopy(), zone)).isEqualTo("pass pass");
        assertThat(relayed(message("a@sub.other.org")).metadata().dkim()).as("other.org is not listed").isEmpty();
        // A user given example.org may sign for its subdomains too; one given other.org only may not.
        assertThat(Dkimpy.verify(submitted("alice", "alice pw", "alice@news.example.org"), zone)).isEqualTo("none");
        assertThat(Dkimpy.verify(submitted("bob", "bob pw", "bob@news.example.org"), zone)).isEqualTo("pass pass");
    }

    @Test
    void aDomainWithoutAKeyIsPassedOnUnsigned() throws Exception {
        byte[] m = viaMx(trusting, "a@unkeyed.test");
        assertThat(Dkimpy.verify(m, zone)).isEqualTo("none");
    }
}
