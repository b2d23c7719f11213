package net.mailrelay.delivery;

import com.hazelcast.core.HazelcastInstance;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.cluster.HazelcastConnectionGate;
import net.mailrelay.delivery.cluster.HazelcastDestinationGuard;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.cluster.HazelcastQueueControls;
import net.mailrelay.delivery.cluster.HazelcastRetryRequests;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.ClusterSecret;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.TopicReader;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** A worker wired as deploy wires it, on its own topics, for integration tests; close it after use. */
final class WorkerFixture implements AutoCloseable {

    final Topics topics;
    final DeliveryWorker worker;
    final HazelcastRetryRequests retries;
    final HazelcastConnectionGate gate;
    /** The worker's meters (WorkerMetrics), for tests that check what it counts. */
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final HazelcastQueueControls controls;
    private final KafkaProducer<String, byte[]> producer;
    private final TopicReader events;
    private final String bootstrapServers;

    WorkerFixture(KafkaBroker kafka, Topics topics, HazelcastInstance member, RetrySchedule schedule, List<String> routes,
            String dnsServer, int mxPort, Map<String, Integer> concurrency) throws Exception {
        this(kafka, topics, member, schedule, routes, dnsServer, mxPort, concurrency, 0);
    }

    /** @param rebuildMaxRecords delivery.ledger-rebuild.max-records; 0 for the default */
    WorkerFixture(KafkaBroker kafka, Topics topics, HazelcastInstance member, RetrySchedule schedule, List<String> routes,
            String dnsServer, int mxPort, Map<String, Integer> concurrency, int rebuildMaxRecords) throws Exception {
        this(kafka, topics, member, schedule, routes, dnsServer, mxPort, concurrency, rebuildMaxRecords, Suppressions.NONE,
                UnaryOperator.identity());
    }

    /** Delivery threads that died of an Error, as "job: error"; a worker deployed exits instead (Fatal.EXIT). */
    final List<String> fatal = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * @param suppressions the suppression list the worker reads
     * @param ledger what the worker sees of its Hazelcast ledger: the ledger itself, or it behind a fault
     */
    WorkerFixture(KafkaBroker kafka, Topics topics, HazelcastInstance member, RetrySchedule schedule, List<String> routes,
            String dnsServer, int mxPort, Map<String, Integer> concurrency, int rebuildMaxRecords, Suppressions suppressions,
            UnaryOperator<RecipientLedger> ledger) throws Exception {
        this.topics = topics;
        this.bootstrapServers = kafka.bootstrapServers();
        this.gate = new HazelcastConnectionGate(member, 20, concurrency, Duration.ofSeconds(30));
        this.retries = new HazelcastRetryRequests(member, Clock.systemUTC());
        this.controls = new HazelcastQueueControls(member, ClusterSecret.SEAL, retries, schedule.maxLifetime(), Clock.systemUTC());
        DeliveryWorker.Cluster cluster = new DeliveryWorker.Cluster(
                ledger.apply(new HazelcastLedger(member, ClusterSecret.SEAL, Duration.ofHours(1), Duration.ofMinutes(5))), gate,
                new HazelcastDestinationGuard(member, 3, Duration.ofSeconds(2), Map.of(), Clock.systemUTC()), retries,
                suppressions, null, controls);
        this.worker = DeliveryWorker.start(new DeliveryWorker.Config("relay.test", KafkaAccess.plaintext(kafka.bootstrapServers()), topics,
                TransportTable.parse(routes), RoutePolicies.DEFAULT, null, SmtpClient.Reuse.DEFAULT, Duration.ofSeconds(2),
                dnsServer, Duration.ofSeconds(1), 100, mxPort, schedule, 8, 50,
                new Timeouts(Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(5),
                        Duration.ofSeconds(5), Duration.ofSeconds(5)),
                RecordCodec.maxRecordBytes(1_000_000), Duration.ofSeconds(5), Duration.ZERO, Duration.ofDays(30),
                Duration.ofSeconds(5), null, null, rebuildMaxRecords, null), cluster, meters, (job, error) -> fatal.add(job + ": " + error));
        this.producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                new StringSerializer(), new ByteArraySerializer());
        this.events = new TopicReader(kafka, topics.events());
    }

    QueueId enqueue(String... rcpts) throws Exception {
        return enqueueTo(null, rcpts);
    }

    /** Puts a message on one partition of the outbound topic (any, when null). */
    QueueId enqueueTo(Integer partition, String... rcpts) throws Exception {
        QueueId id = QueueId.next(System.currentTimeMillis());
        Envelope env = new Envelope(id, "sender@origin.test", java.util.Arrays.stream(rcpts).map(Recipient::of).toList(),
                BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null, System.currentTimeMillis(), 0, 0, null);
        byte[] message = ("Subject: " + id + "\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        producer.send(new ProducerRecord<>(topics.outbound(), partition, id.value(),
                RecordCodec.encode(env, message, 0, message.length))).get();
        return id;
    }

    /** Puts a message on a retry tier, as a deferral would, due at {@code notBeforeMillis}. */
    QueueId enqueueOnTier(Duration tier, long notBeforeMillis, String... rcpts) throws Exception {
        QueueId id = QueueId.next(System.currentTimeMillis());
        Envelope env = new Envelope(id, "sender@origin.test", java.util.Arrays.stream(rcpts).map(Recipient::of).toList(),
                BodyType.SEVEN_BIT, false, null, null, "127.0.0.1", "client.test", null, System.currentTimeMillis(), 0, 0, null);
        byte[] message = ("Subject: " + id + "\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(topics.retryTier(tier), 0, id.value(),
                RecordCodec.encode(env, message, 0, message.length));
        r.headers().add(net.mailrelay.protocol.record.RecordHeaders.NOT_BEFORE,
                Long.toString(notBeforeMillis).getBytes(StandardCharsets.US_ASCII));
        producer.send(r).get();
        return id;
    }

    /** The worker group's committed offsets, by partition of {@code topic}. */
    Map<Integer, Long> committed(String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            Map<Integer, Long> out = new java.util.HashMap<>();
            admin.listConsumerGroupOffsets(DeliveryWorker.groupId(topics)).partitionsToOffsetAndMetadata().get()
                    .forEach((tp, o) -> {
                        if (tp.topic().equals(topic) && o != null) {
                            out.put(tp.partition(), o.offset());
                        }
                    });
            return out;
        }
    }

    List<DeliveryEvent> events(QueueId id) {
        return events.poll().stream().map(r -> RecordCodec.decode(r.value(), DeliveryEvent.class).metadata())
                .filter(e -> e.queueId().equals(id)).toList();
    }

    @Override
    public void close() {
        events.close();
        producer.close();
        worker.close();
        retries.close();
        gate.close();
    }
}
