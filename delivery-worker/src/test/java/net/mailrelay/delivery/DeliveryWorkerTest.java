package net.mailrelay.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.mailrelay.delivery.attempt.DestinationGuard;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.queue.RetryRequests;
import net.mailrelay.delivery.smtp.ConnectionGate;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.ClusterSecret;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A worker on a real broker with a real Hazelcast member, delivering to a fake MX over real sockets. */
@ExtendWith(KafkaFixture.class)
class DeliveryWorkerTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx();

    static final List<Duration> TIERS = List.of(Duration.ofSeconds(1));
    static Topics topics;
    static HazelcastInstance hazelcast;
    static DeliveryWorker worker;
    static KafkaProducer<String, byte[]> producer;
    static TopicReader events;
    static TopicReader bounces;

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        topics = kafka.freshTopics(TIERS);
        Config hz = new Config().setClusterName("test-" + UUID.randomUUID());
        hz.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
        hz.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(false);
        hz.setProperty("hazelcast.logging.type", "slf4j");
        hazelcast = Hazelcast.newHazelcastInstance(hz);
        RetrySchedule fast = new RetrySchedule(TIERS, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(1));
        worker = DeliveryWorker.start(new DeliveryWorker.Config("relay.test", KafkaAccess.plaintext(kafka.bootstrapServers()), topics,
                TransportTable.parse(List.of("routed.test=" + MX.hostPort())), RoutePolicies.DEFAULT, null,
                SmtpClient.Reuse.DEFAULT, Duration.ofSeconds(2), null, Duration.ofSeconds(1), 100, 25, fast,
                8, 50, Timeouts.RFC_5321, RecordCodec.maxRecordBytes(10_000_000), Duration.ofSeconds(5),
                Duration.ZERO, Duration.ZERO, Duration.ofSeconds(10), null),
                new DeliveryWorker.Cluster(new HazelcastLedger(hazelcast, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5)),
                        ConnectionGate.NONE, DestinationGuard.NONE, RetryRequests.NONE));
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                new StringSerializer(), new ByteArraySerializer());
        events = new TopicReader(kafka, topics.events());
        bounces = new TopicReader(kafka, topics.bounce());
        // The worker has its partitions before a test queues anything: a record queued before the assignment is
        // one to be read again, whose ledger entries outlive a forget on purpose (issue 16), and the test of
        // forgetting failed whenever it ran first.
        enqueue("warm-up@routed.test");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> MX.deliveriesTo("warm-up@routed.test").size() == 1);
    }

    @AfterAll
    static void stop() {
        events.close();
        bounces.close();
        producer.close();
        worker.close();
        hazelcast.shutdown();
    }

    static QueueId enqueue(String... rcpts) throws Exception {
        return enqueue(QueueId.next(System.currentTimeMillis()), rcpts);
    }

    static QueueId enqueue(QueueId id, String... rcpts) throws Exception {
        Envelope env = new Envelope(id, "sender@origin.test", java.util.Arrays.stream(rcpts).map(Recipient::of).toList(),
                BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null, System.currentTimeMillis(), 0, 0,
                null);
        byte[] message = ("Subject: " + id + "\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        producer.send(new ProducerRecord<>(topics.outbound(), id.value(), RecordCodec.encode(env, message, 0, message.length)))
                .get();
        return id;
    }

    static List<DeliveryEvent> eventsFor(QueueId id) {
        return events.poll().stream().map(r -> RecordCodec.decode(r.value(), DeliveryEvent.class).metadata())
                .filter(e -> e.queueId().equals(id)).toList();
    }

    @Test
    void deliversAndLogsAnEvent() throws Exception {
        QueueId id = enqueue("alice@routed.test");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> eventsFor(id).stream().anyMatch(e -> e.outcome() == DeliveryEvent.Outcome.DELIVERED));
        assertThat(MX.deliveriesTo("alice@routed.test")).singleElement()
                .satisfies(d -> assertThat(d.text()).isEqualTo("Subject: " + id + "\r\n\r\nbody\r\n"));
        DeliveryEvent e = eventsFor(id).get(0);
        assertThat(e.attempt()).isEqualTo(1);
        assertThat(e.status()).isEqualTo("2.0.0");
        assertThat(e.remoteAddress()).isEqualTo(MX.hostPort());
    }

    @Test
    void forgetsDeliveredRecipientsOnceTheirOffsetIsCommitted() throws Exception {
        QueueId id = enqueue("carol@routed.test", "dave@routed.test");
        String carol = id.value() + " carol@routed.test";
        var delivered = hazelcast.<String, String>getMap(HazelcastLedger.DELIVERED);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> eventsFor(id).stream().filter(e -> e.outcome() == DeliveryEvent.Outcome.DELIVERED).count() == 2);
        // The ledger only has to outlive the window in which the record could be read again: once the
        // offset is committed (every 500 ms), the entries are deleted, so the map does not grow with the
        // traffic.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !delivered.containsKey(carol)
                && !delivered.containsKey(id.value() + " dave@routed.test"));
        assertThat(MX.deliveriesTo("carol@routed.test")).hasSize(1);
    }

    /**
     * Issue 17: whoever reaches Hazelcast with the cluster name can write the ledger. "Delivered" marks
     * it did not sign, in the old format and in the new, and a claim it did not sign, all written before
     * the message is read, stop nothing: the recipients are delivered.
     */
    @Test
    void forgedLedgerEntriesDoNotStopADelivery() throws Exception {
        QueueId id = QueueId.next(System.currentTimeMillis());
        var delivered = hazelcast.<String, Object>getMap(HazelcastLedger.DELIVERED);
        delivered.set(id.value() + " forged-long@routed.test", 1L | (System.currentTimeMillis() << 3));
        delivered.set(id.value() + " forged-mark@routed.test", "D" + System.currentTimeMillis() + "~AAAAAAAAAAAAAAAAAAAAAA");
        delivered.set(id.value() + " forged-claim@routed.test",
                "C" + hazelcast.getCluster().getLocalMember().getUuid() + "/forged~zzzzzzzz~AAAAAAAAAAAAAAAAAAAAAA");
        enqueue(id, "forged-long@routed.test", "forged-mark@routed.test", "forged-claim@routed.test");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> MX.deliveriesTo("forged-long@routed.test").size()
                + MX.deliveriesTo("forged-mark@routed.test").size() + MX.deliveriesTo("forged-claim@routed.test").size() == 3);
    }

    @Test
    void retriesATemporaryFailureThroughTheTierTopic() throws Exception {
        QueueId id = enqueue("flaky-1@routed.test", "steady@routed.test");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> eventsFor(id).stream().filter(e -> e.outcome() == DeliveryEvent.Outcome.DELIVERED).count() == 2);
        List<DeliveryEvent> log = eventsFor(id);
        assertThat(log).extracting(e -> e.recipient() + " " + e.outcome() + " #" + e.attempt()).containsExactlyInAnyOrder(
                "steady@routed.test DELIVERED #1", "flaky-1@routed.test DEFERRED #1", "flaky-1@routed.test DELIVERED #2");
        assertThat(MX.timesOffered("flaky-1@routed.test")).isEqualTo(2);
        assertThat(MX.deliveriesTo("steady@routed.test")).hasSize(1);
        assertThat(MX.deliveriesTo("flaky-1@routed.test")).hasSize(1);
        DeliveryEvent deferred = log.stream().filter(e -> e.outcome() == DeliveryEvent.Outcome.DEFERRED).findFirst().orElseThrow();
        DeliveryEvent later = log.stream().filter(e -> e.attempt() == 2).findFirst().orElseThrow();
        assertThat(later.atMillis() - deferred.atMillis()).as("waited for the retry delay").isGreaterThanOrEqualTo(800);
    }

    @Test
    void asksForABounceOnPermanentFailure() throws Exception {
        QueueId id = enqueue("permfail@routed.test", "fine@routed.test");
        var record = bounces.awaitAny(r -> r.key().equals(id.value()), Duration.ofSeconds(30)).stream()
                .filter(r -> r.key().equals(id.value())).findFirst().orElseThrow();
        RecordCodec.Decoded<BounceRequest> d = RecordCodec.decode(record.value(), BounceRequest.class);
        assertThat(d.metadata().reports()).singleElement().satisfies(r -> {
            assertThat(r.recipient().address()).isEqualTo("permfail@routed.test");
            assertThat(r.status()).isEqualTo("5.1.1");
            assertThat(r.diagnostic()).startsWith("smtp; 550 5.1.1");
            assertThat(r.remoteMta()).isEqualTo("127.0.0.1");
        });
        assertThat(new String(d.messageCopy(), StandardCharsets.US_ASCII)).startsWith("Subject: " + id);
        assertThat(MX.deliveriesTo("fine@routed.test")).hasSize(1);
    }
}
