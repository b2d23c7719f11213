package net.mailrelay.bounce;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.TopicReader;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(KafkaFixture.class)
class BounceServiceTest {

    private static final String HOST = "bounce.test.example";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final byte[] ORIGINAL = "From: <sender@example.org>\r\nSubject: hello\r\n\r\nbody text\r\n"
            .getBytes(StandardCharsets.US_ASCII);

    private static Topics topics;
    private static Admin admin;
    private static BounceService service;
    private static final SimpleMeterRegistry METERS = new SimpleMeterRegistry();
    private static KafkaProducer<String, byte[]> worker;
    private static TopicReader outbound;
    private static KafkaBroker kafka;

    @BeforeAll
    static void start(KafkaBroker broker) {
        kafka = broker;
        topics = broker.freshTopics(List.of());
        service = BounceService.start(new BounceService.Config(HOST, KafkaAccess.plaintext(broker.bootstrapServers()), topics,
                KafkaBroker.MAX_MESSAGE_BYTES), METERS);
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        worker = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        outbound = new TopicReader(broker, topics.outbound());
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
        if (worker != null) {
            worker.close();
        }
        if (outbound != null) {
            outbound.close();
        }
        if (admin != null) {
            admin.close();
        }
    }

    @Test
    void queuesANotificationToTheSenderFromTheNullSender() throws Exception {
        BounceRequest request = failure("first-sender@example.org", "gone@example.net");
        send(0, request.envelope().queueId().value(), RecordCodec.encode(request, ORIGINAL, 0, ORIGINAL.length));

        ConsumerRecord<String, byte[]> record = awaitNotificationTo("first-sender@example.org");
        RecordCodec.Decoded<Envelope> decoded = RecordCodec.decode(record.value(), Envelope.class);
        Envelope envelope = decoded.metadata();
        assertThat(envelope.hasNullReversePath()).isTrue();
        assertThat(envelope.recipients()).containsExactly(Recipient.of("first-sender@example.org"));
        assertThat(record.key()).isEqualTo(envelope.queueId().value());
        assertThat(new String(record.headers().lastHeader(RecordHeaders.FORMAT).value(), StandardCharsets.US_ASCII))
                .isEqualTo("1");

        Message dsn = new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(decoded.messageCopy()));
        assertThat(dsn.getMimeType()).isEqualTo("multipart/report");
        List<Entity> parts = ((Multipart) dsn.getBody()).getBodyParts();
        assertThat(text(parts.get(1))).contains("Final-Recipient: rfc822; gone@example.net", "Status: 5.1.1",
                "X-Mail-Relay-Queue-ID: " + request.envelope().queueId());
        assertThat(text(parts.get(2))).contains("Subject: hello").doesNotContain("body text");
    }

    @Test
    void neverNotifiesTheNullSenderAndSkipsWhatItCannotRead() throws Exception {
        // All on one partition, so the good request is read only after the two that must yield nothing.
        BounceRequest bounceOfABounce = failure("", "someone@example.net");
        BounceRequest normal = failure("second-sender@example.org", "missing@example.net");
        send(1, bounceOfABounce.envelope().queueId().value(),
                RecordCodec.encode(bounceOfABounce, ORIGINAL, 0, ORIGINAL.length));
        send(1, "BROKEN", new byte[] {9, 9, 9});
        send(1, normal.envelope().queueId().value(), RecordCodec.encode(normal, ORIGINAL, 0, ORIGINAL.length));

        List<ConsumerRecord<String, byte[]>> all = outbound.awaitAny(
                r -> isNotificationTo(r, "second-sender@example.org"), WAIT);
        assertThat(all).noneMatch(r -> new String(r.value(), StandardCharsets.ISO_8859_1)
                .contains(bounceOfABounce.envelope().queueId().value()));
        assertThat(all).noneMatch(r -> RecordCodec.decode(r.value(), Envelope.class).metadata().recipients().stream()
                .anyMatch(rcpt -> rcpt.address().equals("someone@example.net")));
        // All three are settled, the unreadable one included, so the group has committed past them.
        TopicPartition partition = new TopicPartition(topics.bounce(), 1);
        Awaitility.await().atMost(WAIT).until(() -> committed(partition) == 3);
    }

    @Test
    void queuesOneDelayWarning() throws Exception {
        long now = System.currentTimeMillis();
        Envelope original = envelope("delayed-sender@example.org", "slow@example.net", now);
        RecipientReport delay = new RecipientReport(Recipient.of("slow@example.net"), Action.DELAYED, "4.4.1", null,
                "connect to mx.example.net[198.51.100.25]:25: Connection timed out", now, now + 432_000_000L,
                FailureClass.OTHER);
        BounceRequest request = new BounceRequest(original, List.of(delay), "worker.test.example");
        send(0, original.queueId().value(), RecordCodec.encode(request, ORIGINAL, 0, ORIGINAL.length));

        Message dsn = parse(onlyNotificationTo("delayed-sender@example.org"));
        assertThat(dsn.getSubject()).isEqualTo("Delayed Mail (still being retried)");
        List<Entity> parts = ((Multipart) dsn.getBody()).getBodyParts();
        assertThat(text(parts.get(0))).contains("THIS IS A WARNING ONLY");
        Awaitility.await().atMost(WAIT).until(() -> sent("delay") == 1);
        assertThat(text(parts.get(1))).contains("Final-Recipient: rfc822; slow@example.net", "Action: delayed",
                "Status: 4.4.1", "Will-Retry-Until: ", "X-Mail-Relay-Failure-Class: other");
        assertThat(parts.get(2).getMimeType()).isEqualTo("text/rfc822-headers");
    }

    @Test
    void queuesOneSuccessReport() throws Exception {
        long now = System.currentTimeMillis();
        Envelope original = envelope("success-sender@example.org", "arrived@example.net", now);
        RecipientReport relayed = new RecipientReport(new Recipient("arrived@example.net", null, Set.of(Notify.SUCCESS)),
                Action.RELAYED, "2.0.0", "mx.example.net", "250 2.0.0 Ok: queued as 4XyZ", now);
        BounceRequest request = new BounceRequest(original, List.of(relayed), "worker.test.example");
        send(0, original.queueId().value(), RecordCodec.encode(request, ORIGINAL, 0, ORIGINAL.length));

        Message dsn = parse(onlyNotificationTo("success-sender@example.org"));
        assertThat(dsn.getSubject()).isEqualTo("Successful Mail Delivery Report");
        List<Entity> parts = ((Multipart) dsn.getBody()).getBodyParts();
        assertThat(text(parts.get(1))).contains("Final-Recipient: rfc822; arrived@example.net", "Action: relayed",
                "Status: 2.0.0");
        Awaitility.await().atMost(WAIT).until(() -> sent("success") == 1);
        assertThat(METERS.find("mailrelay.queue.lag").tag("topic", "mail.bounce").gauge()).isNotNull();
    }

    @Test
    void staysSilentWhenEveryRecipientSaidNever() throws Exception {
        // On a partition of its own: once both are committed, the first has certainly been handled.
        long now = System.currentTimeMillis();
        Envelope original = envelope("never-sender@example.org", "private@example.net", now);
        RecipientReport never = new RecipientReport(new Recipient("private@example.net", null, Set.of(Notify.NEVER)),
                Action.FAILED, "5.1.1", "mx.example.net", "550 5.1.1 User unknown", now);
        BounceRequest silent = new BounceRequest(original, List.of(never), "worker.test.example");
        BounceRequest marker = failure("after-never@example.org", "gone@example.net");
        send(2, original.queueId().value(), RecordCodec.encode(silent, ORIGINAL, 0, ORIGINAL.length));
        send(2, marker.envelope().queueId().value(), RecordCodec.encode(marker, ORIGINAL, 0, ORIGINAL.length));

        Awaitility.await().atMost(WAIT).until(() -> committed(new TopicPartition(topics.bounce(), 2)) == 2);
        List<ConsumerRecord<String, byte[]>> all = outbound.awaitAny(r -> isNotificationTo(r, "after-never@example.org"), WAIT);
        assertThat(all).noneMatch(r -> isNotificationTo(r, "never-sender@example.org"));
    }

    private static double sent(String type) {
        return METERS.get("mailrelay.dsn.sent").tag("type", type).counter().count();
    }

    /**
     * A notification the broker will not take for now (here the outbound topic takes no record stamped
     * before it arrives; each send is stamped anew) is sent again, the same one, until it is taken; its
     * request's offset is committed only then, and nothing else of the partition is read again.
     */
    @Test
    void aNotificationTheBrokerRefusesIsSentAgainUntilItIsTaken() throws Exception {
        TopicPartition p0 = new TopicPartition(topics.bounce(), 0);
        outboundRefuses(true);
        try {
            BounceRequest request = failure("refused-sender@example.org", "refused@example.net");
            send(0, request.envelope().queueId().value(), RecordCodec.encode(request, ORIGINAL, 0, ORIGINAL.length));
            long end = admin.listOffsets(Map.of(p0, org.apache.kafka.clients.admin.OffsetSpec.latest())).all()
                    .get(30, TimeUnit.SECONDS).get(p0).offset();
            Awaitility.await().during(Duration.ofSeconds(7)).atMost(Duration.ofSeconds(12))
                    .until(() -> committed(p0) < end);
        } finally {
            outboundRefuses(false);
        }
        onlyNotificationTo("refused-sender@example.org");
        Awaitility.await().atMost(WAIT).until(() -> committed(p0) == admin.listOffsets(
                Map.of(p0, org.apache.kafka.clients.admin.OffsetSpec.latest())).all().get(30, TimeUnit.SECONDS).get(p0).offset());
    }

    /**
     * Issue 29, item 6: a notification the broker refuses for good (larger than the outbound topic takes,
     * even without content) is dropped, logged and counted, and the partition goes on; before, it was
     * sent again for ever with its partition paused. (RefusedRecordsTest shows the smaller one that goes
     * when the headers fit.)
     */
    @Test
    void aNotificationTheBrokerRefusesForGoodIsDroppedAndCountedNotSentForEver() throws Exception {
        TopicPartition p0 = new TopicPartition(topics.bounce(), 0);
        double before = METERS.get("mailrelay.dsn.dropped").counter().count();
        outboundTakes(100);
        try {
            BounceRequest request = failure("too-large-sender@example.org", "too-large@example.net");
            send(0, request.envelope().queueId().value(), RecordCodec.encode(request, ORIGINAL, 0, ORIGINAL.length));
            long end = admin.listOffsets(Map.of(p0, org.apache.kafka.clients.admin.OffsetSpec.latest())).all()
                    .get(30, TimeUnit.SECONDS).get(p0).offset();
            Awaitility.await().atMost(WAIT).until(() -> committed(p0) == end);
            assertThat(METERS.get("mailrelay.dsn.dropped").counter().count()).isEqualTo(before + 1);
        } finally {
            outboundTakes(KafkaBroker.MAX_MESSAGE_BYTES);
        }
    }

    private static void outboundRefuses(boolean refuse) {
        kafka.refuseWrites(topics.outbound(), refuse);
    }

    private static void outboundTakes(int maxMessageBytes) throws Exception {
        var topic = new org.apache.kafka.common.config.ConfigResource(org.apache.kafka.common.config.ConfigResource.Type.TOPIC,
                topics.outbound());
        admin.incrementalAlterConfigs(Map.of(topic, List.of(new org.apache.kafka.clients.admin.AlterConfigOp(
                new org.apache.kafka.clients.admin.ConfigEntry("max.message.bytes", Integer.toString(maxMessageBytes)),
                org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
    }

    private static long committed(TopicPartition partition) throws Exception {
        OffsetAndMetadata o = admin.listConsumerGroupOffsets(topics.prefix() + "mail-relay-bounce").partitionsToOffsetAndMetadata()
                .get(30, TimeUnit.SECONDS).get(partition);
        return o == null ? -1 : o.offset();
    }

    private static Envelope envelope(String sender, String recipient, long now) {
        return new Envelope(QueueId.next(now), sender, List.of(Recipient.of(recipient)),
                BodyType.SEVEN_BIT, false, DsnReturn.HDRS, null, "192.0.2.7", "client.example", null, now, 1, 0, null);
    }

    private static BounceRequest failure(String sender, String recipient) {
        long now = System.currentTimeMillis();
        Envelope original = envelope(sender, recipient, now);
        RecipientReport report = new RecipientReport(new Recipient(recipient, null, Set.of(Notify.FAILURE)),
                Action.FAILED, "5.1.1", "mx.example.net", "550 5.1.1 <" + recipient + ">: User unknown", now);
        return new BounceRequest(original, List.of(report), "worker.test.example");
    }

    private static void send(int partition, String key, byte[] value)
            throws InterruptedException, ExecutionException, TimeoutException {
        worker.send(new ProducerRecord<>(topics.bounce(), partition, key, value)).get(30, TimeUnit.SECONDS);
    }

    private static ConsumerRecord<String, byte[]> awaitNotificationTo(String sender) {
        return outbound.awaitAny(r -> isNotificationTo(r, sender), WAIT).stream()
                .filter(r -> isNotificationTo(r, sender))
                .findFirst().orElseThrow();
    }

    /** Waits for the notification to the sender, and checks it is the only one so far. */
    private static byte[] onlyNotificationTo(String sender) {
        List<ConsumerRecord<String, byte[]>> all = outbound.awaitAny(r -> isNotificationTo(r, sender), WAIT);
        List<ConsumerRecord<String, byte[]>> mine = all.stream().filter(r -> isNotificationTo(r, sender)).toList();
        assertThat(mine).hasSize(1);
        return RecordCodec.decode(mine.get(0).value(), Envelope.class).messageCopy();
    }

    private static Message parse(byte[] message) throws IOException {
        return new DefaultMessageBuilder().parseMessage(new ByteArrayInputStream(message));
    }

    private static boolean isNotificationTo(ConsumerRecord<String, byte[]> record, String sender) {
        Envelope e = RecordCodec.decode(record.value(), Envelope.class).metadata();
        return e.recipients().stream().anyMatch(r -> r.address().equals(sender));
    }

    private static String text(Entity part) throws IOException {
        try (InputStream in = ((SingleBody) part.getBody()).getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
