package net.mailrelay.delivery.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.delivery.smtp.ClientTls;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.testing.FakeMx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Holds and administrator's orders as one attempt sees them: against a real fake MX, a held
 * destination is never connected to and an ordered message is failed or deleted without a session;
 * and the records they turn into (longest tier, attempt not counted, DSN only for a failure).
 */
class QueueControlsTest {

    @RegisterExtension
    final FakeMx mx = new FakeMx("mx.controls.test");

    static final byte[] MESSAGE = "Subject: t\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
    static final Topics TOPICS = new Topics("");
    static final RetrySchedule SCHEDULE = new RetrySchedule(List.of(Duration.ofMinutes(1), Duration.ofHours(1)),
            Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofDays(5));
    static final long NOW = 1_800_000_000_000L;

    /** Holds and orders in memory, as the Hazelcast maps would answer. */
    static final class Controls implements QueueControls {
        final Set<String> held = ConcurrentHashMap.newKeySet();
        final Map<String, Order> orders = new ConcurrentHashMap<>();

        @Override
        public Order order(String queueId) {
            return orders.get(queueId);
        }

        @Override
        public boolean held(String destination) {
            return held.contains(destination);
        }
    }

    final Controls controls = new Controls();
    final ClientBehaviourTest.MemoryLedger ledger = new ClientBehaviourTest.MemoryLedger();
    final AttemptRecords records = new AttemptRecords(TOPICS, SCHEDULE, "relay.test", new SplittableRandom(1),
            Duration.ZERO, Duration.ZERO);
    SmtpClient client;
    MessageDelivery delivery;

    @BeforeEach
    void start() throws Exception {
        client = new SmtpClient(ClientBehaviourTest.SHORT, new ClientTls(null), SmtpClient.Reuse.DEFAULT);
        delivery = new MessageDelivery(TransportTable.parse(List.of("held.test=" + mx.hostPort(), "open.test=" + mx.hostPort())),
                RoutePolicies.DEFAULT, new MxResolver(MxResolver.resolver("127.0.0.1:9", Duration.ofMillis(200)), 0, 5, 25),
                client, ledger, DestinationGuard.NONE, Suppressions.NONE, controls, "relay.test", 50, Duration.ofSeconds(30),
                Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        client.close();
    }

    static Envelope envelope(int attempts, long arrived, String... rcpts) {
        return new Envelope(QueueId.next(arrived), "sender@origin.test", java.util.Arrays.stream(rcpts).map(Recipient::of).toList(),
                BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null, arrived, attempts, 0, null);
    }

    List<AttemptRecords.Write> written(Envelope env, List<Verdict> verdicts, long now) {
        return records.of(env, MESSAGE, 0, MESSAGE.length, verdicts, now - 10, now);
    }

    static List<DeliveryEvent> events(List<AttemptRecords.Write> w) {
        return w.stream().filter(x -> x.topic().equals(TOPICS.events()))
                .map(x -> RecordCodec.decode(x.value(), DeliveryEvent.class).metadata()).toList();
    }

    static List<AttemptRecords.Write> on(List<AttemptRecords.Write> w, String topic) {
        return w.stream().filter(x -> x.topic().equals(topic)).toList();
    }

    @Test
    void heldMailIsNotAttemptedAndWaitsOnTheLongestTierWithoutCountingAnAttempt() throws Exception {
        controls.held.add("held.test");
        Envelope env = envelope(2, System.currentTimeMillis(), "a@held.test", "b@open.test");
        List<Verdict> verdicts = delivery.deliver(env, MESSAGE, 0, MESSAGE.length);

        assertThat(verdicts).extracting(v -> v.recipient() + " " + v.getClass().getSimpleName())
                .containsExactlyInAnyOrder("a@held.test Postponed", "b@open.test Delivered");
        assertThat(mx.timesOffered("a@held.test")).isZero();
        assertThat(mx.deliveriesTo("b@open.test")).hasSize(1);

        List<AttemptRecords.Write> w = written(env, verdicts, System.currentTimeMillis());
        assertThat(on(w, TOPICS.retryTier(Duration.ofHours(1)))).singleElement().satisfies(r -> {
            Envelope next = RecordCodec.decode(r.value(), Envelope.class).metadata();
            assertThat(next.recipients()).extracting(Recipient::address).containsExactly("a@held.test");
            assertThat(next.attempts()).as("a hold is not an attempt").isEqualTo(2);
        });
        assertThat(events(w)).filteredOn(e -> e.recipient().equals("a@held.test")).singleElement().satisfies(e -> {
            assertThat(e.outcome()).isEqualTo(DeliveryEvent.Outcome.DEFERRED);
            assertThat(e.reply()).isEqualTo("delivery to held.test is on hold by the administrator");
        });
        assertThat(on(w, TOPICS.bounce())).isEmpty();
    }

    @Test
    void otherPostponementsKeepTheShortestTierNextToAHold() {
        Envelope env = envelope(0, NOW, "a@held.test", "b@busy.test");
        EnhancedStatus s = EnhancedStatus.parse("4.4.5");
        List<AttemptRecords.Write> w = written(env, List.of(
                new Verdict.Postponed("a@held.test", s, "on hold", Verdict.Postponed.Limit.HELD),
                new Verdict.Postponed("b@busy.test", s, "over its rate", Verdict.Postponed.Limit.RATE)), NOW);
        assertThat(on(w, TOPICS.retryTier(Duration.ofMinutes(1)))).hasSize(1);
        assertThat(on(w, TOPICS.retryTier(Duration.ofHours(1)))).isEmpty();
    }

    @Test
    void heldMailStillExpiresAtTheQueueLifetime() {
        Envelope env = envelope(0, NOW - Duration.ofDays(5).toMillis(), "a@held.test");
        List<AttemptRecords.Write> w = written(env, List.of(new Verdict.Postponed("a@held.test",
                EnhancedStatus.parse("4.4.5"), "delivery to held.test is on hold by the administrator",
                Verdict.Postponed.Limit.HELD)), NOW);
        assertThat(events(w)).extracting(DeliveryEvent::outcome).containsExactly(DeliveryEvent.Outcome.EXPIRED);
        assertThat(on(w, TOPICS.bounce())).singleElement().satisfies(b -> assertThat(
                RecordCodec.decode(b.value(), BounceRequest.class).metadata().reports()).singleElement()
                .satisfies(r -> assertThat(r.status()).isEqualTo("4.4.7")));
        assertThat(w).noneMatch(x -> TOPICS.isRetryTier(x.topic()));
    }

    @Test
    void aFailOrderFailsEveryRemainingRecipientWithoutASessionAndAsksForADsn() throws Exception {
        Envelope env = envelope(3, System.currentTimeMillis(), "done@open.test", "gone@open.test", "a@open.test", "b@held.test");
        ledger.markDelivered(env.queueId(), "done@open.test");
        // Issue 29: a recipient that has bounced already had its DSN; failing it again sent a second one.
        ledger.markBounced(env.queueId(), "gone@open.test");
        controls.orders.put(env.queueId().value(), QueueControls.Order.FAIL);
        List<Verdict> verdicts = delivery.deliver(env, MESSAGE, 0, MESSAGE.length);

        assertThat(verdicts).extracting(v -> v.recipient() + " " + v.getClass().getSimpleName() + " " + v.status())
                .containsExactly("a@open.test Failed 5.0.0", "b@held.test Failed 5.0.0");
        assertThat(mx.connectionCount()).isZero();
        List<AttemptRecords.Write> w = written(env, verdicts, System.currentTimeMillis());
        assertThat(events(w)).extracting(DeliveryEvent::outcome).containsOnly(DeliveryEvent.Outcome.FAILED);
        assertThat(on(w, TOPICS.bounce())).singleElement().satisfies(b -> assertThat(
                RecordCodec.decode(b.value(), BounceRequest.class).metadata().reports()).allSatisfy(r -> {
                    assertThat(r.action()).isEqualTo(Action.FAILED);
                    assertThat(r.status()).isEqualTo("5.0.0");
                    assertThat(r.diagnostic()).isEqualTo("message failed by the administrator");
                }));
        assertThat(w).noneMatch(x -> TOPICS.isRetryTier(x.topic()));
    }

    @Test
    void aDeleteOrderDropsTheMessageWithOnlyItsEvents() throws Exception {
        Envelope env = envelope(1, System.currentTimeMillis(), "a@open.test", "b@open.test");
        controls.orders.put(env.queueId().value(), QueueControls.Order.DELETE);
        List<Verdict> verdicts = delivery.deliver(env, MESSAGE, 0, MESSAGE.length);

        assertThat(verdicts).allMatch(v -> v instanceof Verdict.Deleted).hasSize(2);
        assertThat(mx.connectionCount()).isZero();
        List<AttemptRecords.Write> w = written(env, verdicts, System.currentTimeMillis());
        assertThat(w).allMatch(x -> x.topic().equals(TOPICS.events()));
        assertThat(events(w)).hasSize(2).allSatisfy(e -> {
            assertThat(e.outcome()).isEqualTo(DeliveryEvent.Outcome.DELETED);
            assertThat(e.reply()).isEqualTo("message deleted by the administrator");
            assertThat(e.failureClass()).isNull();
        });
    }
}
