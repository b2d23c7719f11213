package net.mailrelay.edge;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.FreezableProxy;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.SmtpTranscript;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A Kafka brown-out seen from SMTP clients: a 451 means the message is still the client's, so once
 * Kafka is back nothing answered 451 may turn up in the outbound topic (each would be a copy of what
 * the client sends again). The edge's producer reaches the real broker through a proxy frozen before
 * the producer ever got metadata, so every send waits for metadata and no record is on its way to a
 * broker when its client is answered: the one case where a 451 may still be followed by the record
 * (a batch already in flight, docs/edge.md) cannot arise.
 */
@ExtendWith(KafkaFixture.class)
class KafkaBrownOutTest {

    static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(3);

    @Test
    void nothingAnswered451DuringABrownOutIsPublishedOnceKafkaIsBack(KafkaBroker kafka) throws Exception {
        Topics topics = kafka.freshTopics(List.of());
        try (FreezableProxy proxy = new FreezableProxy(kafka.bootstrapServers()).freeze()) {
            TestEdges t = new TestEdges(proxy.address(), topics);
            t.publish = PUBLISH_TIMEOUT;
            List<String> answered451 = new ArrayList<>();
            try (EdgeReceiver edge = t.start(ClientGuard.NONE)) {
                // Several clients at once: one send blocks on metadata, the others wait in the queue behind it.
                List<SmtpTranscript> clients = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    clients.add(inData(edge));
                }
                long t0 = System.nanoTime();
                for (int i = 0; i < clients.size(); i++) {
                    clients.get(i).sendRaw(message("brownout-" + i).getBytes(StandardCharsets.US_ASCII));
                }
                for (int i = 0; i < clients.size(); i++) {
                    clients.get(i).expect("451 4.3.0");
                    answered451.add("brownout-" + i);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("every client answered within the publish timeout and its margins")
                        .isLessThan(PUBLISH_TIMEOUT.multipliedBy(3));
                clients.forEach(SmtpTranscript::close);

                proxy.thaw();
                // Kafka is back: a message is accepted again (the first tries may still find no metadata).
                AtomicReference<String> queued = new AtomicReference<>();
                try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
                    c.expect("220");
                    c.send("EHLO client.test");
                    c.expect("250 ");
                    int[] attempt = {0};
                    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                        String marker = "after-" + attempt[0]++;
                        String reply = c.sendMessage("a@client.test", List.of("x@routed.test"), body(marker));
                        if (reply.startsWith("451")) {
                            answered451.add(marker);
                            return false;
                        }
                        assertThat(reply).startsWith("250 2.0.0 Ok: queued as ");
                        queued.set(reply.substring("250 2.0.0 Ok: queued as ".length()));
                        return true;
                    });
                }
                // The edge sends in order, so whatever it ever meant to send before that message is written by now.
                List<ConsumerRecord<String, byte[]>> written = readToEnd(kafka, topics.outbound());
                assertThat(written).extracting(ConsumerRecord::key).contains(queued.get());
                assertThat(written).extracting(KafkaBrownOutTest::subject).as("messages written to the topic")
                        .doesNotContainAnyElementsOf(answered451);
            }
        }
    }

    static SmtpTranscript inData(EdgeReceiver edge) {
        SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort());
        c.expect("220");
        c.send("EHLO client.test");
        c.expect("250 ");
        c.send("MAIL FROM:<a@client.test>");
        c.expect("250");
        c.send("RCPT TO:<x@routed.test>");
        c.expect("250");
        c.send("DATA");
        c.expect("354");
        return c;
    }

    static String body(String marker) {
        return "Subject: " + marker + "\r\n\r\nsent during a brown-out\r\n";
    }

    static String message(String marker) {
        return body(marker) + ".\r\n";
    }

    static String subject(ConsumerRecord<String, byte[]> r) {
        String value = new String(r.value(), StandardCharsets.US_ASCII);
        int at = value.indexOf("Subject: ");
        return at < 0 ? "" : value.substring(at + "Subject: ".length(), value.indexOf('\r', at));
    }

    /** Every record of the topic up to its end offsets as of now. */
    static List<ConsumerRecord<String, byte[]>> readToEnd(KafkaBroker kafka, String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
                return partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp));
            });
        }
        return records;
    }
}
