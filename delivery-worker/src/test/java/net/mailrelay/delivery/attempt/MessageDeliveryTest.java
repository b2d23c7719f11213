package net.mailrelay.delivery.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.cluster.HazelcastDestinationGuard;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.cluster.HazelcastQueueControls;
import net.mailrelay.delivery.cluster.HazelcastRetryRequests;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.smtp.ClientTls;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.testing.ClusterSecret;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Delivery attempts against real sockets: a DNS responder and fake MX servers on loopback addresses. */
class MessageDeliveryTest {

    @RegisterExtension
    static final DnsResponder DNS = new DnsResponder();
    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx2.two.test", loopback("127.0.0.3"), 0);

    static SmtpClient client;
    static MessageDelivery delivery;

    static InetAddress loopback(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    static RecipientLedger memory;

    @BeforeAll
    static void start() {
        // mx1 (preference 10) has nothing listening; mx2 (preference 20) is the fake MX.
        DNS.mx("two.test", 10, "mx1.two.test").address("mx1.two.test", "127.0.0.2")
                .mx("two.test", 20, "mx2.two.test").address("mx2.two.test", "127.0.0.3")
                .mx("one.test", 10, "mx2.two.test");
        client = new SmtpClient(new Timeouts(Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(5)), tls(), SmtpClient.Reuse.DEFAULT);
        memory = new ClientBehaviourTest.MemoryLedger();
        delivery = new MessageDelivery(TransportTable.parse(List.of("routed.test=" + MX.hostPort())), RoutePolicies.DEFAULT,
                new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofSeconds(1)), 0, 5, MX.port()),
                client, memory, "relay.test", 50, Duration.ofMinutes(1), java.time.Clock.systemUTC());
    }

    static ClientTls tls() {
        try {
            return new ClientTls(null);
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    static Envelope envelope(String... rcpts) {
        return new Envelope(QueueId.next(System.currentTimeMillis()), "sender@origin.test",
                java.util.Arrays.stream(rcpts).map(Recipient::of).toList(), BodyType.SEVEN_BIT, false, null, null,
                "127.0.0.1", "client.test", null, System.currentTimeMillis(), 0, 0, null);
    }

    static final byte[] MESSAGE = "Subject: t\r\n\r\n.dot line\r\nend\r\n".getBytes(StandardCharsets.US_ASCII);

    @Test
    void movesToTheNextMxWhenTheFirstIsDownAndDeliversInOneAttempt() throws Exception {
        Envelope env = envelope("someone@two.test");
        List<Verdict> verdicts = delivery.deliver(env, MESSAGE, 0, MESSAGE.length);
        assertThat(verdicts).singleElement().isInstanceOf(Verdict.Delivered.class);
        Verdict.Delivered d = (Verdict.Delivered) verdicts.get(0);
        assertThat(d.remote().host()).isEqualTo("mx2.two.test");
        assertThat(MX.deliveriesTo("someone@two.test")).singleElement()
                .satisfies(m -> assertThat(m.data()).isEqualTo(MESSAGE));
    }

    @Test
    void deliversOverIpv6() throws Exception {
        try (FakeMx six = new FakeMx("mx.six.test", loopback("::1"), MX.port())) {
            six.start();
            DNS.mx("six.test", 10, "mx.six.test").address("mx.six.test", "::1");
            List<Verdict> verdicts = delivery.deliver(envelope("someone@six.test"), MESSAGE, 0, MESSAGE.length);
            assertThat(verdicts).singleElement().isInstanceOf(Verdict.Delivered.class);
            assertThat(((Verdict.Delivered) verdicts.get(0)).remote().address()).isEqualTo("0:0:0:0:0:0:0:1:" + MX.port());
            assertThat(six.deliveriesTo("someone@six.test")).hasSize(1);
        }
    }

    @Test
    void decidesEachRecipientByItsOwnReply() throws Exception {
        Envelope env = envelope("ok@routed.test", "permfail@routed.test", "tempfail@routed.test", "ok2@one.test");
        List<Verdict> verdicts = delivery.deliver(env, MESSAGE, 0, MESSAGE.length);
        assertThat(verdicts).extracting(v -> v.recipient() + "=" + v.getClass().getSimpleName() + " " + v.status())
                .containsExactlyInAnyOrder("ok@routed.test=Delivered 2.0.0", "permfail@routed.test=Failed 5.1.1",
                        "tempfail@routed.test=Deferred 4.3.0", "ok2@one.test=Delivered 2.0.0");
        Verdict failed = verdicts.stream().filter(v -> v.recipient().startsWith("permfail")).findFirst().orElseThrow();
        assertThat(failed.explanation()).contains("said: 550 5.1.1").contains("(in reply to RCPT TO command)");
        // Only the deferred recipient gets a retry copy, so only its ledger entry must outlive a forget.
        assertThat(((ClientBehaviourTest.MemoryLedger) memory).kept).containsExactly(env.queueId() + " tempfail@routed.test");
    }

    @Test
    void skipsRecipientsTheLedgerKnowsAreDelivered() throws Exception {
        Envelope env = envelope("once@routed.test");
        delivery.deliver(env, MESSAGE, 0, MESSAGE.length);
        assertThat(delivery.deliver(env, MESSAGE, 0, MESSAGE.length)).isEmpty();
        assertThat(MX.deliveriesTo("once@routed.test")).hasSize(1);
    }

    /** A refused recipient whose bounce request is queued is not tried (nor bounced) again when its record comes back. */
    @Test
    void skipsRecipientsTheLedgerKnowsAreBounced() throws Exception {
        Envelope env = envelope("permfail-once@routed.test");
        assertThat(delivery.deliver(env, MESSAGE, 0, MESSAGE.length)).singleElement().isInstanceOf(Verdict.Failed.class);
        memory.markBounced(env.queueId(), "permfail-once@routed.test"); // as the delivery loop does once the request is durable
        assertThat(delivery.deliver(env, MESSAGE, 0, MESSAGE.length)).isEmpty();
        assertThat(MX.timesOffered("permfail-once@routed.test")).isEqualTo(1);
    }

    /**
     * A record read twice at once around a rebalance: until the first reading's bounce request is durable,
     * the second neither offers the refused recipient again nor asks for a second bounce; it postpones it,
     * and its copy finds it bounced. If the bounce request could not be written, the claim is given up
     * for the record's next reading.
     */
    @Test
    void aRefusedRecipientStaysClaimedUntilItsBounceRequestIsDurable() throws Exception {
        HazelcastInstance member = TestMembers.cluster(1).get(0);
        try {
            HazelcastLedger ledger = new HazelcastLedger(member, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5));
            MessageDelivery first = delivery(ledger);
            MessageDelivery second = delivery(ledger);
            Envelope env = envelope("permfail-read-twice@routed.test");
            List<Verdict> v1 = first.deliver(env, MESSAGE, 0, MESSAGE.length);
            assertThat(v1).singleElement().isInstanceOf(Verdict.Failed.class);
            List<Verdict> v2 = second.deliver(env, MESSAGE, 0, MESSAGE.length);
            assertThat(v2).singleElement().isInstanceOfSatisfying(Verdict.Postponed.class,
                    p -> assertThat(p.limit()).isEqualTo(Verdict.Postponed.Limit.CLAIM));
            first.bounceRecorded(env, v1, true);
            second.bounceRecorded(env, v2, true);
            assertThat(second.deliver(env, MESSAGE, 0, MESSAGE.length)).as("the postponed copy").isEmpty();
            assertThat(MX.timesOffered("permfail-read-twice@routed.test")).isEqualTo(1);

            Envelope unwritten = envelope("permfail-unwritten@routed.test");
            first.bounceRecorded(unwritten, first.deliver(unwritten, MESSAGE, 0, MESSAGE.length), false);
            assertThat(second.deliver(unwritten, MESSAGE, 0, MESSAGE.length)).as("read again after the write failed")
                    .singleElement().isInstanceOf(Verdict.Failed.class);
        } finally {
            member.shutdown();
        }
    }

    /**
     * Issue 31: a delivered message costs the cluster two calls, one to open its recipients in the ledger
     * and one to settle them, each a batch over its recipients (before: five per recipient in the ledger's
     * two maps, and a hold, an order and two destination-health lookups per message). Holds, orders and
     * destination health are read from copies kept by events.
     */
    @Test
    void aDeliveredMessageCostsTheLedgerTwoCallsWhateverItsRecipients() throws Exception {
        HazelcastInstance member = TestMembers.cluster(1).get(0);
        try {
            HazelcastLedger ledger = new HazelcastLedger(member, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5));
            HazelcastRetryRequests retries = new HazelcastRetryRequests(member, java.time.Clock.systemUTC());
            HazelcastQueueControls controls = new HazelcastQueueControls(member, ClusterSecret.SEAL, retries, Duration.ofHours(1),
                    java.time.Clock.systemUTC());
            HazelcastDestinationGuard guard = new HazelcastDestinationGuard(member, 3, Duration.ofMinutes(1), Map.of(),
                    java.time.Clock.systemUTC());
            controls.hold("elsewhere.test");
            controls.order(QueueId.next(System.currentTimeMillis()).value(), QueueControls.Order.DELETE);
            guard.failed("unwell.test", "connection refused");
            MessageDelivery d = new MessageDelivery(TransportTable.parse(List.of("routed.test=" + MX.hostPort())),
                    RoutePolicies.DEFAULT, new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofSeconds(1)), 0, 5, MX.port()),
                    client, ledger, guard, Suppressions.NONE, controls, "relay.test", 50, Duration.ofMinutes(1),
                    java.time.Clock.systemUTC());
            for (String[] rcpts : List.of(new String[] {"one@routed.test"},
                    new String[] {"a@routed.test", "b@routed.test", "c@routed.test", "d@routed.test"})) {
                long before = calls(member);
                Envelope env = envelope(rcpts);
                List<Verdict> verdicts = d.deliver(env, MESSAGE, 0, MESSAGE.length);
                assertThat(verdicts).hasSize(rcpts.length).allMatch(v -> v instanceof Verdict.Delivered);
                // Hazelcast counts an entry processor run over a batch of keys once per key.
                assertThat(calls(member) - before).as("cluster operations for %d recipients", rcpts.length)
                        .isEqualTo(2L * rcpts.length);
                for (String r : rcpts) {
                    assertThat(ledger.settled(env.queueId(), r)).isEqualTo(RecipientLedger.Settled.DELIVERED);
                    assertThat(ledger.claim(env.queueId(), r)).as("settled, so not claimed again").isNull();
                }
            }
        } finally {
            member.shutdown();
        }
    }

    /** The operations on every map so far, as Hazelcast counts them: one per key an entry processor ran on. */
    private static long calls(HazelcastInstance member) {
        long n = 0;
        for (var o : member.getDistributedObjects()) {
            if (o instanceof com.hazelcast.map.IMap<?, ?> map) {
                var stats = map.getLocalMapStats();
                n += stats.getGetOperationCount() + stats.getPutOperationCount() + stats.getSetOperationCount()
                        + stats.getRemoveOperationCount() + stats.getOtherOperationCount();
            }
        }
        return n;
    }

    private static MessageDelivery delivery(RecipientLedger ledger) {
        return new MessageDelivery(TransportTable.parse(List.of("routed.test=" + MX.hostPort())), RoutePolicies.DEFAULT,
                new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofSeconds(1)), 0, 5, MX.port()),
                client, ledger, "relay.test", 50, Duration.ofMinutes(1), java.time.Clock.systemUTC());
    }

    /**
     * Issue 15, defect 4: a delivery interrupted in its second domain (the shutdown grace is over) has
     * settled its first domain already, so that reading the record again does not deliver it twice.
     */
    @Test
    void aDomainDoneBeforeAnInterruptionIsNotDeliveredAgain() throws Exception {
        try (FakeMx stall = new FakeMx("mx.stall.test", loopback("127.0.0.6"), 0)) {
            stall.mode(FakeMx.Mode.STALL_AFTER_GREETING).start();
            ClientBehaviourTest.MemoryLedger ledger = new ClientBehaviourTest.MemoryLedger();
            MessageDelivery d = new MessageDelivery(TransportTable.parse(List.of("routed.test=" + MX.hostPort(),
                    "stall.test=" + stall.hostPort())), RoutePolicies.DEFAULT,
                    new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofSeconds(1)), 0, 5, MX.port()),
                    client, ledger, "relay.test", 50, Duration.ofMinutes(1), java.time.Clock.systemUTC());
            Envelope env = envelope("first@routed.test", "second@stall.test");
            java.util.concurrent.atomic.AtomicReference<Throwable> ended = new java.util.concurrent.atomic.AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    d.deliver(env, MESSAGE, 0, MESSAGE.length);
                } catch (Throwable e) {
                    ended.set(e);
                }
            });
            t.start();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> stall.connectionCount() > 0);
            t.interrupt(); // what the delivery loop does once delivery.shutdown-grace is over
            t.join(10_000);
            assertThat(ended.get()).isInstanceOf(InterruptedException.class);
            assertThat(ledger.settled(env.queueId(), "first@routed.test")).isEqualTo(RecipientLedger.Settled.DELIVERED);
            assertThat(ledger.settled(env.queueId(), "second@stall.test")).isEqualTo(RecipientLedger.Settled.NO);
            assertThat(MX.deliveriesTo("first@routed.test")).hasSize(1);
        }
    }

    /** A local error in one domain defers that domain's recipients; the others keep what they got. */
    @Test
    void aLocalErrorInOneDomainDefersOnlyThatDomain() throws Exception {
        ClientBehaviourTest.MemoryLedger ledger = new ClientBehaviourTest.MemoryLedger();
        DestinationGuard broken = new DestinationGuard() {
            @Override
            public String suspended(String destination) {
                if (destination.equals("one.test")) {
                    throw new IllegalStateException("a bug in the guard");
                }
                return null;
            }

            @Override
            public boolean withinRate(String destination) {
                return true;
            }

            @Override
            public void failed(String destination, String reason) {
            }

            @Override
            public void succeeded(String destination) {
            }
        };
        MessageDelivery d = new MessageDelivery(TransportTable.parse(List.of("routed.test=" + MX.hostPort())),
                RoutePolicies.DEFAULT, new MxResolver(MxResolver.resolver(DNS.hostPort(), Duration.ofSeconds(1)), 0, 5, MX.port()),
                client, ledger, broken, Suppressions.NONE, "relay.test", 50, Duration.ofMinutes(1), java.time.Clock.systemUTC());
        Envelope env = envelope("kept@routed.test", "later@one.test");
        List<Verdict> verdicts = d.deliver(env, MESSAGE, 0, MESSAGE.length);
        assertThat(verdicts).extracting(v -> v.recipient() + "=" + v.getClass().getSimpleName() + " " + v.status())
                .containsExactly("kept@routed.test=Delivered 2.0.0", "later@one.test=Deferred 4.3.0");
        assertThat(ledger.settled(env.queueId(), "kept@routed.test")).isEqualTo(RecipientLedger.Settled.DELIVERED);
    }

    @Test
    void defersWhenNoServerAnswersAndFailsForMissingDomains() throws Exception {
        DNS.mx("dead.test", 10, "mx1.two.test");
        List<Verdict> dead = delivery.deliver(envelope("x@dead.test"), MESSAGE, 0, MESSAGE.length);
        assertThat(dead).singleElement().isInstanceOf(Verdict.Deferred.class);
        assertThat(dead.get(0).status()).hasToString("4.4.1");
        assertThat(dead.get(0).explanation()).contains("connect to mx1.two.test[127.0.0.2]");

        List<Verdict> missing = delivery.deliver(envelope("x@nonexistent.test"), MESSAGE, 0, MESSAGE.length);
        assertThat(missing).singleElement().isInstanceOf(Verdict.Failed.class);
        assertThat(missing.get(0).status()).hasToString("5.1.2");
    }
}
