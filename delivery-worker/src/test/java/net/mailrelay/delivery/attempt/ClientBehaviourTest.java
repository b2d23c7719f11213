package net.mailrelay.delivery.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.NextHop;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.smtp.ClientTls;
import net.mailrelay.delivery.smtp.Credentials;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.delivery.smtp.TlsPolicy;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.testing.FakeMx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SMTP client against a fake MX with named failure modes, over real sockets and real TLS: TLS
 * policies, smarthost AUTH, PIPELINING, connection reuse, extensions the server lacks, and every way a
 * server can misbehave.
 */
class ClientBehaviourTest {

    @RegisterExtension
    final FakeMx mx = new FakeMx("mx.fake.test");
    @TempDir
    Path dir;

    static final Timeouts SHORT = new Timeouts(Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(2),
            Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(2));
    static final byte[] MESSAGE = "Subject: t\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
    private SmtpClient client;

    @AfterEach
    void closeClient() {
        if (client != null) {
            client.close();
        }
    }

    MessageDelivery delivery(TlsPolicy tls, Map<NextHop, Credentials> creds, Path trust, SmtpClient.Reuse reuse) throws Exception {
        client = new SmtpClient(SHORT, new ClientTls(trust), reuse);
        // Routed by name so that the certificate's host name can be checked; mx.fake.test resolves locally.
        return new MessageDelivery(TransportTable.parse(List.of("fake.test=[localhost]:" + mx.port())),
                new RoutePolicies(tls, Map.of(), creds),
                new MxResolver(MxResolver.resolver("127.0.0.1:9", Duration.ofMillis(200)), 0, 5, 25),
                client, new MemoryLedger(), "relay.test", 50, Duration.ofSeconds(30), Clock.systemUTC());
    }

    MessageDelivery delivery(TlsPolicy tls) throws Exception {
        return delivery(tls, Map.of(), null, SmtpClient.Reuse.DEFAULT);
    }

    static Envelope envelope(BodyType body, String... rcpts) {
        return new Envelope(QueueId.next(System.currentTimeMillis()), "sender@origin.test",
                java.util.Arrays.stream(rcpts).map(Recipient::of).toList(), body, false, null, null, "127.0.0.1",
                "client.test", null, System.currentTimeMillis(), 0, 0, null);
    }

    static Verdict one(List<Verdict> verdicts) {
        assertThat(verdicts).hasSize(1);
        return verdicts.get(0);
    }

    @Test
    void reusesOneConnectionForManyMessages() throws Exception {
        MessageDelivery d = delivery(TlsPolicy.NONE);
        for (int i = 0; i < 5; i++) {
            assertThat(one(d.deliver(envelope(BodyType.SEVEN_BIT, "r" + i + "@fake.test"), MESSAGE, 0, MESSAGE.length)))
                    .isInstanceOf(Verdict.Delivered.class);
        }
        assertThat(mx.connectionCount()).isEqualTo(1);
        assertThat(mx.transactionsPerConnection()).containsExactly(5);
    }

    @Test
    void opensNewConnectionsWhenReuseIsOff() throws Exception {
        MessageDelivery d = delivery(TlsPolicy.NONE, Map.of(), null, new SmtpClient.Reuse(100, Duration.ZERO, Duration.ofMinutes(5)));
        for (int i = 0; i < 3; i++) {
            d.deliver(envelope(BodyType.SEVEN_BIT, "r" + i + "@fake.test"), MESSAGE, 0, MESSAGE.length);
        }
        assertThat(mx.transactionsPerConnection()).containsExactly(1, 1, 1);
    }

    @Test
    void waitsForEachReplyWithoutPipelining() throws Exception {
        mx.pipelining(false);
        List<Verdict> v = delivery(TlsPolicy.NONE).deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test", "b@fake.test",
                "permfail@fake.test"), MESSAGE, 0, MESSAGE.length);
        assertThat(v).extracting(x -> x.getClass().getSimpleName()).containsExactlyInAnyOrder("Delivered", "Delivered", "Failed");
        assertThat(mx.pipeliningViolations()).isZero();
    }

    @Test
    void opportunisticTlsEncryptsWhenOffered() throws Exception {
        mx.startTls(true);
        Verdict v = one(delivery(TlsPolicy.OPPORTUNISTIC).deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0,
                MESSAGE.length));
        assertThat(((Verdict.Delivered) v).remote().tls()).startsWith("TLSv1.");
        assertThat(mx.deliveries().get(0).tls()).startsWith("TLSv1.");
    }

    @Test
    void opportunisticTlsFallsBackToPlaintextAfterABrokenHandshake() throws Exception {
        mx.mode(FakeMx.Mode.BROKEN_TLS);
        MessageDelivery d = delivery(TlsPolicy.OPPORTUNISTIC, Map.of(), null, new SmtpClient.Reuse(100, Duration.ZERO, Duration.ofMinutes(5)));
        Verdict first = one(d.deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(first).isInstanceOf(Verdict.Delivered.class);
        assertThat(((Verdict.Delivered) first).remote().tls()).isNull();
        int connections = mx.connectionCount();
        assertThat(connections).isEqualTo(2); // the broken handshake, then plaintext
        // Remembered: the next message goes in plaintext straight away.
        assertThat(one(d.deliver(envelope(BodyType.SEVEN_BIT, "b@fake.test"), MESSAGE, 0, MESSAGE.length)))
                .isInstanceOf(Verdict.Delivered.class);
        assertThat(mx.connectionCount()).isEqualTo(connections + 1);
    }

    @Test
    void requiredTlsDefersWhenTheServerHasNone() throws Exception {
        Verdict v = one(delivery(TlsPolicy.REQUIRED).deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(v).isInstanceOf(Verdict.Deferred.class);
        assertThat(v.status()).hasToString("4.7.4");
        assertThat(v.explanation()).contains("TLS is required, but was not offered");
        assertThat(mx.deliveries()).isEmpty();
    }

    @Test
    void requiredTlsDefersWhenTheHandshakeFails() throws Exception {
        mx.mode(FakeMx.Mode.BROKEN_TLS);
        Verdict v = one(delivery(TlsPolicy.REQUIRED).deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(v).isInstanceOf(Verdict.Deferred.class);
        assertThat(v.status()).hasToString("4.7.5");
    }

    @Test
    void verifyAcceptsOnlyATrustedCertificateThatNamesTheHost() throws Exception {
        mx.startTls(true);
        Path trusted = pem("trusted.pem", mx.certificate());
        Verdict ok = one(delivery(TlsPolicy.VERIFY, Map.of(), trusted, SmtpClient.Reuse.DEFAULT)
                .deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(ok).isInstanceOf(Verdict.Delivered.class);
        client.close();

        Path other = pem("other.pem", FakeMx.certificateFor("someone.else.test"));
        Verdict refused = one(delivery(TlsPolicy.VERIFY, Map.of(), other, SmtpClient.Reuse.DEFAULT)
                .deliver(envelope(BodyType.SEVEN_BIT, "b@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(refused).isInstanceOf(Verdict.Deferred.class);
        assertThat(refused.status()).hasToString("4.7.5");
    }

    @Test
    void logsInToTheSmarthostOverTls() throws Exception {
        mx.startTls(true).auth("relay", "s3cret");
        NextHop hop = NextHop.parse("[localhost]:" + mx.port());
        Verdict ok = one(delivery(TlsPolicy.REQUIRED, Map.of(hop, new Credentials("relay", "s3cret")), null, SmtpClient.Reuse.DEFAULT)
                .deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(ok).isInstanceOf(Verdict.Delivered.class);
        assertThat(mx.deliveries().get(0).authUser()).isEqualTo("relay");
        client.close();

        Verdict wrong = one(delivery(TlsPolicy.REQUIRED, Map.of(hop, new Credentials("relay", "guess")), null, SmtpClient.Reuse.DEFAULT)
                .deliver(envelope(BodyType.SEVEN_BIT, "b@fake.test"), MESSAGE, 0, MESSAGE.length));
        assertThat(wrong).isInstanceOf(Verdict.Deferred.class);
        assertThat(wrong.explanation()).contains("SASL authentication failed").doesNotContain("guess");
    }

    @Test
    void checksSizeAndEightBitBeforeSending() throws Exception {
        mx.sizeLimit(10).eightBitMime(false);
        MessageDelivery d = delivery(TlsPolicy.NONE);
        assertThat(one(d.deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0, MESSAGE.length)).status()).hasToString("5.3.4");
        mx.sizeLimit(0);
        byte[] eight = "Subject: \u00e9\r\n\r\n\u00e9t\u00e9\r\n".getBytes(StandardCharsets.UTF_8);
        MessageDelivery d2 = delivery(TlsPolicy.NONE);
        assertThat(one(d2.deliver(envelope(BodyType.EIGHT_BIT_MIME, "b@fake.test"), eight, 0, eight.length)).status())
                .hasToString("5.6.3");
        // Declared 8BITMIME but 7-bit in fact: sent without BODY=8BITMIME.
        assertThat(one(d2.deliver(envelope(BodyType.EIGHT_BIT_MIME, "c@fake.test"), MESSAGE, 0, MESSAGE.length)))
                .isInstanceOf(Verdict.Delivered.class);
    }

    @Test
    void refusesUtf8AddressesToAServerWithoutSmtpUtf8() throws Exception {
        mx.smtpUtf8(false);
        Envelope env = new Envelope(QueueId.next(System.currentTimeMillis()), "s\u00e9nder@origin.test",
                List.of(Recipient.of("a@fake.test")), BodyType.SEVEN_BIT, true, null, null, "127.0.0.1", "client.test", null,
                System.currentTimeMillis(), 0, 0, null);
        Verdict v = one(delivery(TlsPolicy.NONE).deliver(env, MESSAGE, 0, MESSAGE.length));
        assertThat(v).isInstanceOf(Verdict.Failed.class);
        assertThat(v.status()).hasToString("5.6.7");
    }

    @Test
    void splitsLargeRecipientListsIntoTransactionsOfFifty() throws Exception {
        String[] rcpts = new String[120];
        for (int i = 0; i < rcpts.length; i++) {
            rcpts[i] = "r" + i + "@fake.test";
        }
        List<Verdict> v = delivery(TlsPolicy.NONE).deliver(envelope(BodyType.SEVEN_BIT, rcpts), MESSAGE, 0, MESSAGE.length);
        assertThat(v).hasSize(120).allMatch(x -> x instanceof Verdict.Delivered);
        assertThat(mx.deliveries()).extracting(x -> x.recipients().size()).containsExactly(50, 50, 20);
        assertThat(mx.connectionCount()).isEqualTo(1);
    }

    @Test
    void passesDsnRequestsOnToAServerThatTakesThem() throws Exception {
        mx.dsn(true);
        Envelope env = new Envelope(QueueId.next(System.currentTimeMillis()), "sender@origin.test",
                List.of(new Recipient("a@fake.test", "rfc822;alias@origin.test", java.util.Set.of(net.mailrelay.protocol.envelope.Notify.SUCCESS)),
                        Recipient.of("b@fake.test")),
                BodyType.SEVEN_BIT, false, net.mailrelay.protocol.envelope.DsnReturn.HDRS, "env+2B1", "127.0.0.1", "client.test",
                null, System.currentTimeMillis(), 0, 0, null);
        List<Verdict> v = delivery(TlsPolicy.NONE).deliver(env, MESSAGE, 0, MESSAGE.length);
        assertThat(v).allMatch(x -> x instanceof Verdict.Delivered d && d.remote().dsn());
        assertThat(mx.commandsSeen()).contains("MAIL FROM:<sender@origin.test> RET=HDRS ENVID=env+2B1",
                "RCPT TO:<a@fake.test> NOTIFY=SUCCESS ORCPT=rfc822;alias@origin.test", "RCPT TO:<b@fake.test> ORCPT=rfc822;b@fake.test");
    }

    @Test
    void keepsDsnRequestsFromAServerThatDoesNotOfferDsn() throws Exception {
        Envelope env = new Envelope(QueueId.next(System.currentTimeMillis()), "sender@origin.test",
                List.of(new Recipient("a@fake.test", null, java.util.Set.of(net.mailrelay.protocol.envelope.Notify.SUCCESS))),
                BodyType.SEVEN_BIT, false, net.mailrelay.protocol.envelope.DsnReturn.FULL, null, "127.0.0.1", "client.test",
                null, System.currentTimeMillis(), 0, 0, null);
        Verdict v = one(delivery(TlsPolicy.NONE).deliver(env, MESSAGE, 0, MESSAGE.length));
        assertThat(((Verdict.Delivered) v).remote().dsn()).isFalse();
        assertThat(mx.commandsSeen()).contains("MAIL FROM:<sender@origin.test>", "RCPT TO:<a@fake.test>");
    }

    @Test
    void failsSuppressedRecipientsAtOnce() throws Exception {
        client = new SmtpClient(SHORT, new ClientTls(null), SmtpClient.Reuse.DEFAULT);
        MessageDelivery d = new MessageDelivery(TransportTable.parse(List.of("fake.test=[localhost]:" + mx.port())),
                RoutePolicies.DEFAULT, new MxResolver(MxResolver.resolver("127.0.0.1:9", Duration.ofMillis(200)), 0, 5, 25),
                client, new MemoryLedger(), DestinationGuard.NONE, a -> a.startsWith("gone") ? "550 5.1.1 user unknown" : null,
                "relay.test", 50, Duration.ofSeconds(30), Clock.systemUTC());
        List<Verdict> v = d.deliver(envelope(BodyType.SEVEN_BIT, "gone@fake.test", "here@fake.test"), MESSAGE, 0, MESSAGE.length);
        assertThat(v).extracting(x -> x.recipient() + " " + x.getClass().getSimpleName())
                .containsExactlyInAnyOrder("gone@fake.test Failed", "here@fake.test Delivered");
        assertThat(v.stream().filter(x -> x.recipient().startsWith("gone")).findFirst().orElseThrow().explanation())
                .contains("suppressed");
        assertThat(mx.timesOffered("gone@fake.test")).isZero();
    }

    @Test
    void fallsBackToHelo() throws Exception {
        mx.mode(FakeMx.Mode.NO_EHLO);
        assertThat(one(delivery(TlsPolicy.OPPORTUNISTIC).deliver(envelope(BodyType.SEVEN_BIT, "a@fake.test"), MESSAGE, 0,
                MESSAGE.length))).isInstanceOf(Verdict.Delivered.class);
    }

    @Test
    void misbehavingServersDeferTheMail() throws Exception {
        Map<FakeMx.Mode, String> expected = Map.of(
                FakeMx.Mode.DROP_AT_CONNECT, "4.4.2",
                FakeMx.Mode.GREET_421, "4.3.2",
                FakeMx.Mode.GREET_554, "4.7.1",
                FakeMx.Mode.STALL_AFTER_GREETING, "4.4.2",
                FakeMx.Mode.DISCONNECT_DURING_DATA, "4.4.2",
                FakeMx.Mode.STALL_AFTER_DATA, "4.4.2");
        for (var e : expected.entrySet()) {
            mx.mode(e.getKey());
            Verdict v = one(delivery(TlsPolicy.NONE).deliver(envelope(BodyType.SEVEN_BIT, "x@fake.test"), MESSAGE, 0, MESSAGE.length));
            assertThat(v).as(e.getKey().toString()).isInstanceOf(Verdict.Deferred.class);
            assertThat(v.status()).as(e.getKey().toString()).hasToString(e.getValue());
            client.close();
        }
        mx.mode(FakeMx.Mode.NORMAL);
        Verdict cut = one(delivery(TlsPolicy.NONE).deliver(envelope(BodyType.SEVEN_BIT, "disconnect-in-rcpt@fake.test"), MESSAGE,
                0, MESSAGE.length));
        assertThat(cut).isInstanceOf(Verdict.Deferred.class);
    }

    private Path pem(String name, X509Certificate cert) throws IOException {
        try {
            String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(cert.getEncoded());
            return Files.writeString(dir.resolve(name), "-----BEGIN CERTIFICATE-----\n" + b64 + "\n-----END CERTIFICATE-----\n");
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IOException(e);
        }
    }

    static final class MemoryLedger implements RecipientLedger {
        private final java.util.Map<String, Settled> settled = new java.util.concurrent.ConcurrentHashMap<>();
        /** Recipients noted as having another queued copy, as "queue-id recipient". */
        final java.util.Set<String> kept = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override
        public void keepCopies(QueueId q, String r) {
            kept.add(q + " " + r);
        }

        @Override
        public boolean isDelivered(QueueId q, String r) {
            return settled(q, r) == Settled.DELIVERED;
        }

        @Override
        public Settled settled(QueueId q, String r) {
            return settled.getOrDefault(q + " " + r, Settled.NO);
        }

        @Override
        public void markDelivered(QueueId q, String r) {
            settled.put(q + " " + r, Settled.DELIVERED);
        }

        @Override
        public void markBounced(QueueId q, String r) {
            settled.put(q + " " + r, Settled.BOUNCED);
        }

        @Override
        public String claim(QueueId q, String r) {
            return "memory";
        }

        @Override
        public void release(QueueId q, String r, String token) {
            // nothing held
        }
    }
}
