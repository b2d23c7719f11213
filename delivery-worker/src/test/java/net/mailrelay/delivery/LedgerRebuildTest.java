package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.core.HazelcastInstance;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.cluster.TestMembers;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 16: the delivered-recipients ledger lost with every Hazelcast member, on a real broker and a
 * real (new, empty) Hazelcast member. A previous worker's deliveries are written here as it would have
 * left them: its records not committed, their DELIVERED events on the delivery log. A worker that
 * starts with the empty ledger must not deliver those recipients again.
 */
@ExtendWith(KafkaFixture.class)
class LedgerRebuildTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.dest.test");
    @RegisterExtension
    static final FakeMx SLOW = new FakeMx("mx.slow.test");
    static final List<Duration> TIERS = List.of(Duration.ofSeconds(2));
    private final List<HazelcastInstance> members = new ArrayList<>();

    @AfterEach
    void stop() {
        members.forEach(HazelcastInstance::shutdown);
    }

    /**
     * Two messages on one partition, the offset committed before them: the first was delivered to one
     * of its two recipients before the crash, and its event says so; the second was not delivered yet.
     * Before the rebuild, the empty ledger let the worker deliver the first recipient a second time.
     */
    @Test
    void aRecipientWhoseDeliveryIsOnTheLogIsNotDeliveredAgainWithAnEmptyLedger(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        QueueId done = enqueue(kafka, topics, 0, "rebuilt-a@dest.test", "rebuilt-b@dest.test");
        QueueId fresh = enqueue(kafka, topics, 0, "rebuilt-c@dest.test");
        QueueId elsewhere = enqueue(kafka, topics, 1, "rebuilt-d@dest.test");
        event(kafka, topics, done, "rebuilt-a@dest.test", DeliveryEvent.Outcome.DELIVERED);
        // An event of a message on a partition committed past it: not one to restore.
        event(kafka, topics, elsewhere, "rebuilt-d@dest.test", DeliveryEvent.Outcome.DELIVERED);
        event(kafka, topics, done, "rebuilt-b@dest.test", DeliveryEvent.Outcome.DEFERRED);
        commit(topics, kafka, new TopicPartition(topics.outbound(), 1), 1, "read=" + System.currentTimeMillis());

        members.addAll(TestMembers.cluster(1));
        try (WorkerFixture w = fixture(kafka, topics, 0)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("rebuilt-b@dest.test").size() == 1
                    && MX.deliveriesTo("rebuilt-c@dest.test").size() == 1);
            await().atMost(Duration.ofSeconds(20)).until(() -> w.committed(topics.outbound()).getOrDefault(0, 0L) == 2L);
            assertThat(MX.timesOffered("rebuilt-a@dest.test")).as("delivered before the crash").isZero();
            assertThat(MX.timesOffered("rebuilt-d@dest.test")).as("committed before the crash").isZero();
            assertThat(w.meters.get("mailrelay.ledger.rebuild.entries").counter().count()).isEqualTo(1.0);
            assertThat(w.meters.get("mailrelay.ledger.rebuild").timer().count()).isGreaterThanOrEqualTo(1);
            assertThat(fresh).isNotNull();
        }
    }

    /**
     * A recipient whose bounce request is on the bounce topic was bounced before the crash: it is not
     * offered again (the MX would refuse it again and the sender get a second DSN). A delay warning on
     * the same topic settles nothing: that recipient is delivered.
     */
    @Test
    void aRecipientWhoseBounceRequestIsOnTheLogIsNotBouncedAgain(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        QueueId id = enqueue(kafka, topics, 0, "permfail-rebuilt@dest.test", "rebuilt-warned@dest.test");
        var env = new net.mailrelay.protocol.envelope.Envelope(id, "sender@origin.test", List.of(
                net.mailrelay.protocol.envelope.Recipient.of("permfail-rebuilt@dest.test"),
                net.mailrelay.protocol.envelope.Recipient.of("rebuilt-warned@dest.test")),
                net.mailrelay.protocol.envelope.BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null,
                System.currentTimeMillis(), 0, 0, null);
        long now = System.currentTimeMillis();
        var failed = net.mailrelay.protocol.dsn.RecipientReport.failed(
                net.mailrelay.protocol.envelope.Recipient.of("permfail-rebuilt@dest.test"), "5.1.1", "mx.dest.test",
                "smtp; 550 5.1.1 no such user", now);
        var delayed = new net.mailrelay.protocol.dsn.RecipientReport(
                net.mailrelay.protocol.envelope.Recipient.of("rebuilt-warned@dest.test"), net.mailrelay.protocol.dsn.Action.DELAYED,
                "4.4.1", "mx.dest.test", "smtp; 421 try later", now);
        for (var report : List.of(failed, delayed)) {
            send(kafka, new ProducerRecord<>(topics.bounce(), id.value(), RecordCodec.encode(
                    new net.mailrelay.protocol.dsn.BounceRequest(env, List.of(report), "worker.test"))));
        }

        members.addAll(TestMembers.cluster(1));
        try (WorkerFixture w = fixture(kafka, topics, 0)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("rebuilt-warned@dest.test").size() == 1);
            await().atMost(Duration.ofSeconds(20)).until(() -> w.committed(topics.outbound()).getOrDefault(0, 0L) == 1L);
            assertThat(MX.timesOffered("permfail-rebuilt@dest.test")).as("bounced before the crash").isZero();
            assertThat(records(kafka, topics.bounce(), id.value())).as("bounce requests for the message").isEqualTo(2);
            assertThat(w.meters.get("mailrelay.ledger.rebuild.entries").counter().count()).isEqualTo(1.0);
        }
    }

    /**
     * The window the rebuild leaves is a delivery whose event is not yet on the log. A domain delivered
     * while another of the message is still at its final dot has its DELIVERED event written at once,
     * not when the slowest domain is done; and only once.
     */
    @Test
    void aDomainDeliveredWhileAnotherIsStillGoingHasItsEventOnTheLogAtOnce(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        // Within the fixture's 5-second wait for the reply to the final dot.
        SLOW.finalDotDelay(Duration.ofSeconds(3));
        try {
            QueueId id = enqueue(kafka, topics, 0, "early@dest.test", "late@slow.test");
            members.addAll(TestMembers.cluster(1));
            try (WorkerFixture w = fixture(kafka, topics, 1_000_000)) {
                // The first domain is done; the second has at least 3 s to go from here.
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                        .until(() -> MX.deliveriesTo("early@dest.test").size() == 1);
                await().atMost(Duration.ofMillis(2_500)).pollInterval(Duration.ofMillis(50))
                        .until(() -> delivered(kafka, topics, id).contains("early@dest.test"));
                assertThat(SLOW.deliveriesTo("late@slow.test")).as("the other domain, still at its final dot").isEmpty();
                await().atMost(Duration.ofSeconds(30)).until(() -> w.committed(topics.outbound()).getOrDefault(0, 0L) == 1L);
                assertThat(delivered(kafka, topics, id)).containsExactlyInAnyOrder("early@dest.test", "late@slow.test");
                assertThat(w.meters.get("mailrelay.delivery.attempts").tag("outcome", "delivered").counter().count())
                        .as("each delivery counted once").isEqualTo(2.0);
            }
        } finally {
            SLOW.finalDotDelay(Duration.ZERO);
        }
    }

    /**
     * A record read again after a crash whose first reading had postponed its recipient and queued a
     * retry copy: the copy comes after the record, read again, has delivered the recipient and been
     * committed, and must find it settled. The ledger forgot it at that commit, and the copy delivered
     * it a second time (the fault suite's hazelcast-loss).
     */
    @Test
    void aRetryCopyQueuedBeforeTheCrashFindsTheRecipientDeliveredFromTheRecordReadAgain(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        QueueId id = enqueue(kafka, topics, 0, "copied@dest.test");
        var retry = new ProducerRecord<>(topics.retryTier(TIERS.get(0)), 0, id.value(), message(envelope(id,
                "copied@dest.test"), 1));
        long notBefore = System.currentTimeMillis() + 6_000;
        retry.headers().add(net.mailrelay.protocol.record.RecordHeaders.NOT_BEFORE,
                Long.toString(notBefore).getBytes(StandardCharsets.US_ASCII));
        send(kafka, retry);

        members.addAll(TestMembers.cluster(1));
        String tier = topics.retryTier(TIERS.get(0));
        try (WorkerFixture w = fixture(kafka, topics, 1_000_000)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> MX.deliveriesTo("copied@dest.test").size() == 1
                    && w.committed(topics.outbound()).getOrDefault(0, 0L) == 1L);
            // The copy falls due; moved to fit its wait or not, the tier is then committed to its end.
            await().atMost(Duration.ofSeconds(30)).until(() -> System.currentTimeMillis() > notBefore
                    && w.committed(tier).values().stream().mapToLong(Long::longValue).sum() == records(kafka, tier, id.value())
                    && w.meters.get("mailrelay.queue.in.flight").gauge().value() == 0);
            assertThat(MX.deliveriesTo("copied@dest.test")).as("deliveries of the recipient").hasSize(1);
        }
    }

    /**
     * Issue 29: a retry copy whose recipient was delivered by another reading of the message (here the
     * delivery whose claim made the copy's reader queue it, which ended a minute before the copy was
     * written), on a quiet tier whose committed time has been refreshed to ten minutes later. The ledger
     * is lost: the rebuild must reach back before the copy was written, whatever the tier's time says.
     * Before, it read from that time less the margin, missed the event, and the copy delivered again.
     */
    @Test
    void aRetryCopyFindsItsRecipientDeliveredElsewhereWhateverItsTiersRefreshedTime(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        String tier = topics.retryTier(TIERS.get(0));
        long now = System.currentTimeMillis();
        QueueId id = QueueId.next(now - 120_000);
        event(kafka, topics, id, "claimed-copy@dest.test", DeliveryEvent.Outcome.DELIVERED, now - 60_000);
        var copy = new ProducerRecord<>(tier, 0, id.value(), message(envelope(id, "claimed-copy@dest.test"), 1));
        copy.headers().add(net.mailrelay.protocol.record.RecordHeaders.NOT_BEFORE,
                Long.toString(now).getBytes(StandardCharsets.US_ASCII));
        send(kafka, copy);
        commit(topics, kafka, new TopicPartition(tier, 0), 0, "read=" + (now + Duration.ofMinutes(10).toMillis()));

        members.addAll(TestMembers.cluster(1));
        try (WorkerFixture w = fixture(kafka, topics, 0)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> w.committed(tier).getOrDefault(0, 0L) == 1L);
            assertThat(MX.timesOffered("claimed-copy@dest.test")).as("delivered again by the copy").isZero();
        }
    }

    /**
     * The time a commit carries bounds the rebuild: an event older than it (less the margin) is not
     * read, and the offset a worker commits carries a time.
     */
    @Test
    void theCommittedTimeBoundsTheRebuildAndEveryCommitCarriesOne(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        QueueId old = enqueue(kafka, topics, 2, "horizon-a@dest.test");
        event(kafka, topics, old, "horizon-a@dest.test", DeliveryEvent.Outcome.DELIVERED, System.currentTimeMillis()
                - Duration.ofMinutes(30).toMillis());
        // Committed before the record with a time after its event, less than the margin: the old event is not read.
        commit(topics, kafka, new TopicPartition(topics.outbound(), 2), 0, "read=" + System.currentTimeMillis());

        members.addAll(TestMembers.cluster(1));
        try (WorkerFixture w = fixture(kafka, topics, 0)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("horizon-a@dest.test").size() == 1);
            assertThat(w.meters.get("mailrelay.ledger.rebuild.events").counter().count()).isZero();
            await().atMost(Duration.ofSeconds(20)).until(() -> metadata(topics, kafka, new TopicPartition(topics.outbound(), 2))
                    .startsWith("read="));
        }
    }

    /**
     * More events than the limit: the rebuild reads the most recent ones, goes ahead and counts that it
     * stopped (duplicates are possible then).
     */
    @Test
    void aRebuildStopsAtItsLimitAndGoesAhead(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        QueueId id = enqueue(kafka, topics, 0, "capped-a@dest.test", "capped-b@dest.test");
        for (int i = 0; i < 20; i++) {
            event(kafka, topics, QueueId.next(System.currentTimeMillis()), "other@dest.test", DeliveryEvent.Outcome.DELIVERED);
        }
        event(kafka, topics, id, "capped-a@dest.test", DeliveryEvent.Outcome.DELIVERED);

        members.addAll(TestMembers.cluster(1));
        try (WorkerFixture w = fixture(kafka, topics, 3)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("capped-b@dest.test").size() == 1);
            assertThat(w.meters.get("mailrelay.ledger.rebuild.capped").counter().count()).isEqualTo(1.0);
            // The three events per partition it did read are the latest, where this one is.
            assertThat(MX.timesOffered("capped-a@dest.test")).isZero();
        }
    }

    /**
     * The ledger found empty while the worker runs (a new Hazelcast cluster under it): the worker notices
     * that its marks are gone and rebuilds them from the delivery log before it delivers more. The record
     * is read again afterwards: one recipient delivered, the other deferred with its retry record refused
     * for now, so the record stays uncommitted while the ledger is emptied; the next worker reads it again
     * and finds the first recipient delivered only because the rebuild put the mark back (the coverage
     * mark the rebuild wrote tells that worker not to rebuild again).
     */
    @Test
    void aLedgerFoundEmptyWhileTheWorkerRunsIsRebuilt(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(TIERS);
        members.addAll(TestMembers.cluster(1));
        String tier = topics.retryTier(TIERS.get(0));
        kafka.refuseWrites(tier, true);
        try {
            try (WorkerFixture w = fixture(kafka, topics, 0)) {
                QueueId id = enqueue(kafka, topics, 0, "running-a@dest.test", "tempfail-running@dest.test");
                await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("running-a@dest.test").size() == 1
                        && w.events(id).size() == 2);
                double before = w.meters.get("mailrelay.ledger.rebuild").timer().count();
                members.get(0).getMap(HazelcastLedger.COVERAGE).clear();
                members.get(0).getMap(HazelcastLedger.DELIVERED).clear();
                await().atMost(Duration.ofSeconds(20)).until(() -> w.meters.get("mailrelay.ledger.rebuild").timer().count() > before);
                assertThat(w.committed(topics.outbound()).getOrDefault(0, 0L)).as("its retry record still waits").isZero();
            }
            kafka.refuseWrites(tier, false);
            try (WorkerFixture again = fixture(kafka, topics, 0)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> again.committed(topics.outbound()).getOrDefault(0, 0L) == 1L);
                assertThat(MX.timesOffered("tempfail-running@dest.test")).as("read again").isGreaterThanOrEqualTo(2);
                enqueue(kafka, topics, 0, "running-b@dest.test");
                await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("running-b@dest.test").size() == 1);
                assertThat(MX.timesOffered("running-a@dest.test")).as("not delivered again").isEqualTo(1);
            }
        } finally {
            kafka.refuseWrites(tier, false);
        }
    }

    /**
     * The cost of a rebuild with a backlog: {@code ledger.rebuild.records} messages (2,000 in the suite;
     * docs/faults.md has the figures for 100,000) of 5 KiB on the outbound topic, none committed, every
     * one delivered before the crash with its DELIVERED event on the delivery log, beside as many events
     * of other, committed messages. A worker starting with an empty ledger restores every one and
     * delivers none of them again. The long version: {@code mvn -pl delivery-worker test
     * -Dtest=LedgerRebuildTest#aBacklogDeliveredBeforeTheCrashIsRestoredAndNotDeliveredAgain
     * -Dledger.rebuild.records=100000}.
     */
    @Test
    void aBacklogDeliveredBeforeTheCrashIsRestoredAndNotDeliveredAgain(KafkaBroker kafka) throws Exception {
        int n = Integer.getInteger("ledger.rebuild.records", 2_000);
        Topics topics = kafka.freshTopics(TIERS);
        byte[] body = new byte[5 * 1024];
        Arrays.fill(body, (byte) 'x');
        long t0 = System.nanoTime();
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers(), ProducerConfig.LINGER_MS_CONFIG, 20, ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20),
                new StringSerializer(), new ByteArraySerializer())) {
            long now = System.currentTimeMillis();
            for (int i = 0; i < n; i++) {
                // Other messages' events, delivered and committed long since, are in the log too.
                QueueId other = QueueId.next(now);
                p.send(new ProducerRecord<>(topics.events(), other.value(), RecordCodec.encode(delivered(other, "old" + i))));
            }
            for (int i = 0; i < n; i++) {
                QueueId id = QueueId.next(now);
                String rcpt = "backlog-" + i + "@dest.test";
                var env = new net.mailrelay.protocol.envelope.Envelope(id, "sender@origin.test", List.of(net.mailrelay.protocol.envelope.Recipient.of(rcpt)),
                        net.mailrelay.protocol.envelope.BodyType.SEVEN_BIT, false,
                        null, null, "127.0.0.1", "client.test", null, now, 0, 0, null);
                byte[] message = ("Subject: " + id + "\r\n\r\n" + new String(body, StandardCharsets.US_ASCII) + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII);
                p.send(new ProducerRecord<>(topics.outbound(), id.value(), RecordCodec.encode(env, message, 0, message.length)));
                p.send(new ProducerRecord<>(topics.events(), id.value(), RecordCodec.encode(delivered(id, rcpt))));
            }
            p.flush();
        }
        System.out.printf("backlog of %d messages and %d events written in %d ms%n", n, 2 * n,
                (System.nanoTime() - t0) / 1_000_000);

        members.addAll(TestMembers.cluster(1));
        try (WorkerFixture w = fixture(kafka, topics, 1_000_000)) {
            await().atMost(Duration.ofMinutes(3)).until(() -> w.meters.get("mailrelay.ledger.rebuild.entries").counter().count() == n);
            var timer = w.meters.get("mailrelay.ledger.rebuild").timer();
            System.out.printf("ledger rebuild: %d entries restored, %.0f events read, %d ms%n", n,
                    w.meters.get("mailrelay.ledger.rebuild.events").counter().count(),
                    (long) timer.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS));
            await().atMost(Duration.ofMinutes(10)).until(() -> w.committed(topics.outbound()).values().stream()
                    .mapToLong(Long::longValue).sum() == n);
            assertThat(MX.deliveries().stream().filter(d -> d.recipients().stream().anyMatch(r -> r.startsWith("backlog-"))))
                    .as("delivered before the crash").isEmpty();
            assertThat(w.meters.get("mailrelay.ledger.rebuild.capped").counter().count()).isZero();
        }
    }

    private static DeliveryEvent delivered(QueueId id, String rcpt) {
        return new DeliveryEvent(id, rcpt, DeliveryEvent.Outcome.DELIVERED, 1, System.currentTimeMillis(), "mx.dest.test",
                "127.0.0.1:25", "250 ok", "2.0.0", 5, null, null);
    }

    private WorkerFixture fixture(KafkaBroker kafka, Topics topics, int maxRecords) throws Exception {
        return new WorkerFixture(kafka, topics, members.get(0),
                new RetrySchedule(TIERS, Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofHours(1)),
                List.of("dest.test=" + MX.hostPort(), "slow.test=" + SLOW.hostPort()), null, 25, Map.of(), maxRecords);
    }

    private static QueueId enqueue(KafkaBroker kafka, Topics topics, int partition, String... rcpts) throws Exception {
        QueueId id = QueueId.next(System.currentTimeMillis());
        send(kafka, new ProducerRecord<>(topics.outbound(), partition, id.value(), message(envelope(id, rcpts), 0)));
        return id;
    }

    private static net.mailrelay.protocol.envelope.Envelope envelope(QueueId id, String... rcpts) {
        return new net.mailrelay.protocol.envelope.Envelope(id, "sender@origin.test",
                java.util.Arrays.stream(rcpts).map(net.mailrelay.protocol.envelope.Recipient::of).toList(),
                net.mailrelay.protocol.envelope.BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null,
                System.currentTimeMillis(), 0, 0, null);
    }

    private static byte[] message(net.mailrelay.protocol.envelope.Envelope env, int attempts) {
        byte[] message = ("Subject: " + env.queueId() + "\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        var e = attempts == 0 ? env : env.forRetry(env.recipients(), attempts, env.notBeforeMillis(), "4.4.5 postponed");
        return RecordCodec.encode(e, message, 0, message.length);
    }

    private static void event(KafkaBroker kafka, Topics topics, QueueId id, String rcpt, DeliveryEvent.Outcome outcome)
            throws Exception {
        event(kafka, topics, id, rcpt, outcome, System.currentTimeMillis());
    }

    private static void event(KafkaBroker kafka, Topics topics, QueueId id, String rcpt, DeliveryEvent.Outcome outcome,
            long at) throws Exception {
        DeliveryEvent e = new DeliveryEvent(id, rcpt, outcome, 1, at, "mx.dest.test", "127.0.0.1:25", "250 ok", "2.0.0", 5,
                null, null);
        send(kafka, new ProducerRecord<>(topics.events(), null, at, id.value(), RecordCodec.encode(e)));
    }

    private static void send(KafkaBroker kafka, ProducerRecord<String, byte[]> r) throws Exception {
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer())) {
            p.send(r).get();
        }
    }

    /** The recipients of the message's DELIVERED events on the delivery log, one per event. */
    private static List<String> delivered(KafkaBroker kafka, Topics topics, QueueId id) {
        List<String> out = new ArrayList<>();
        read(kafka, topics.events(), r -> {
            if (id.value().equals(r.key())) {
                DeliveryEvent e = RecordCodec.decode(r.value(), DeliveryEvent.class).metadata();
                if (e.outcome() == DeliveryEvent.Outcome.DELIVERED) {
                    out.add(e.recipient());
                }
            }
        });
        return out;
    }

    /** How many records of the topic have this key, read from its beginning. */
    private static int records(KafkaBroker kafka, String topic, String key) {
        int[] n = {0};
        read(kafka, topic, r -> n[0] += key.equals(r.key()) ? 1 : 0);
        return n[0];
    }

    private static void read(KafkaBroker kafka, String topic,
            java.util.function.Consumer<org.apache.kafka.clients.consumer.ConsumerRecord<String, byte[]>> each) {
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = c.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition()))
                    .toList();
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
                c.poll(Duration.ofMillis(200)).forEach(each);
            }
        }
    }

    private static KafkaConsumer<String, byte[]> groupConsumer(Topics topics, KafkaBroker kafka) {
        return new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, DeliveryWorker.groupId(topics)), new StringDeserializer(),
                new ByteArrayDeserializer());
    }

    /** Commits for the workers' group, as a worker that has since died would have. */
    private static void commit(Topics topics, KafkaBroker kafka, TopicPartition tp, long offset, String metadata) {
        try (KafkaConsumer<String, byte[]> c = groupConsumer(topics, kafka)) {
            c.commitSync(Map.of(tp, new OffsetAndMetadata(offset, metadata)));
        }
    }

    private static String metadata(Topics topics, KafkaBroker kafka, TopicPartition tp) throws Exception {
        try (var admin = org.apache.kafka.clients.admin.Admin.create(Map.of(
                org.apache.kafka.clients.admin.AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            OffsetAndMetadata o = admin.listConsumerGroupOffsets(DeliveryWorker.groupId(topics)).partitionsToOffsetAndMetadata()
                    .get().get(tp);
            return o == null ? "" : o.metadata();
        }
    }
}
