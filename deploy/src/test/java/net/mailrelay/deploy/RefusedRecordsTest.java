package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 29, item 6: a record the broker refuses for good (larger than its topic takes) used to be sent
 * again for ever, its partition paused behind it, and nothing said so to the sender. Here the topics an
 * operator may have set smaller than the relay's limit refuse the records the relay writes to them: a
 * retry record (its recipients fail with a DSN), a bounce request (asked for again with the headers only)
 * and a DSN in the bounce service (sent with the original's headers only). Each time later mail flows.
 */
@ExtendWith(KafkaFixture.class)
class RefusedRecordsTest {

    /** What the shrunken topics take: less than the messages below, more than their headers. */
    static final int SMALL_TOPIC_BYTES = 30_000;

    @RegisterExtension
    static final DnsResponder DNS = new DnsResponder();
    @RegisterExtension
    static final FakeMx ONE = new FakeMx("mx.one.test", ThreeRoles.ip("127.0.0.2"), 0);
    static FakeMx sender;
    static ThreeRoles relay;
    static Topics topics;
    static String bootstrap;

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        sender = (FakeMx) new FakeMx("mx.sender.test", ThreeRoles.ip("127.0.0.4"), ONE.port()).start();
        DNS.mx("one.test", 10, "mx.one.test").address("mx.one.test", "127.0.0.2")
                .mx("sender.test", 10, "mx.sender.test").address("mx.sender.test", "127.0.0.4")
                .mx("dead.test", 10, "mx.dead.test").address("mx.dead.test", "127.0.0.5");
        String prefix = "refused" + UUID.randomUUID().toString().substring(0, 6) + ".";
        topics = new Topics(prefix);
        bootstrap = kafka.bootstrapServers();
        relay = ThreeRoles.start(kafka, DNS, ONE.port(), prefix, 5811, Map.of("kafka.partitions", "1", "queue.max-lifetime", "1h"));
    }

    @AfterAll
    static void stop() {
        relay.close();
        sender.close();
    }

    /** Sets the topics' max.message.bytes, as an operator may; null puts back the broker's default. */
    static void limit(Collection<String> names, Integer bytes) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            Map<ConfigResource, Collection<AlterConfigOp>> ops = new HashMap<>();
            for (String name : names) {
                ConfigEntry entry = new ConfigEntry(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, bytes == null ? "" : bytes.toString());
                ops.put(new ConfigResource(ConfigResource.Type.TOPIC, name),
                        List.of(new AlterConfigOp(entry, bytes == null ? AlterConfigOp.OpType.DELETE : AlterConfigOp.OpType.SET)));
            }
            admin.incrementalAlterConfigs(ops).all().get();
        }
    }

    static String send(String from, List<String> to, String message) {
        return relay.send(from, to, message);
    }

    /** A message of some 40 KB: more than the shrunken topics take. */
    static String large(String subject) {
        StringBuilder body = new StringBuilder("Subject: ").append(subject).append("\r\n\r\n");
        for (int i = 0; i < 500; i++) {
            body.append("line ").append(i).append(' ').append("x".repeat(70)).append("\r\n");
        }
        return body.toString();
    }

    static List<FakeMx.Delivery> dsnsOf(String id) {
        return sender.deliveriesTo("alice@sender.test").stream().filter(d -> d.text().contains(id)).toList();
    }

    static void laterMailFlows(String to) {
        String later = send("alice@sender.test", List.of(to), "Subject: later\r\n\r\nstill flowing\r\n");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> ONE.deliveriesTo(to).stream()
                .anyMatch(d -> d.text().contains(later)));
    }

    @Test
    void aRetryRecordTheTierRefusesFailsItsRecipientsWithADsn() throws Exception {
        List<String> tier = List.of(topics.retryTier(Duration.ofSeconds(1)));
        limit(tier, SMALL_TOPIC_BYTES);
        try {
            String id = send("alice@sender.test", List.of("nobody@dead.test"), large("cannot wait"));
            Awaitility.await().atMost(Duration.ofSeconds(40)).until(() -> !dsnsOf(id).isEmpty());
            String dsn = dsnsOf(id).get(0).text();
            assertThat(dsn).contains("Final-Recipient: rfc822; nobody@dead.test").contains("Status: 5.3.4")
                    .contains("refused it");
            laterMailFlows("after-retry@one.test");
            assertThat(dsnsOf(id)).as("one DSN").hasSize(1);
        } finally {
            limit(tier, null);
        }
    }

    @Test
    void aBounceRequestTheTopicRefusesIsAskedForWithTheHeadersOnly() throws Exception {
        List<String> bounces = List.of(topics.bounce());
        limit(bounces, SMALL_TOPIC_BYTES);
        try {
            String id = send("alice@sender.test", List.of("permfail-big@one.test"), large("bounce me"));
            Awaitility.await().atMost(Duration.ofSeconds(40)).until(() -> !dsnsOf(id).isEmpty());
            String dsn = dsnsOf(id).get(0).text();
            assertThat(dsn).contains("Final-Recipient: rfc822; permfail-big@one.test").contains("text/rfc822-headers")
                    .contains("Subject: bounce me").doesNotContain("line 400 ");
            laterMailFlows("after-bounce@one.test");
            assertThat(dsnsOf(id)).as("one DSN").hasSize(1);
        } finally {
            limit(bounces, null);
        }
    }

    @Test
    void aDsnTheOutboundTopicRefusesGoesWithTheHeadersOnly() throws Exception {
        // The message fits the topic; its DSN, which returns it whole with an explanation, does not.
        List<String> outbound = List.of(topics.outbound());
        StringBuilder body = new StringBuilder("Subject: just fits\r\n\r\n");
        while (body.length() < SMALL_TOPIC_BYTES - 1_500) {
            body.append("y".repeat(76)).append("\r\n");
        }
        limit(outbound, SMALL_TOPIC_BYTES);
        try {
            String id = send("alice@sender.test", List.of("permfail-fits@one.test"), body.toString());
            Awaitility.await().atMost(Duration.ofSeconds(40)).until(() -> !dsnsOf(id).isEmpty());
            String dsn = dsnsOf(id).get(0).text();
            assertThat(dsn).contains("Final-Recipient: rfc822; permfail-fits@one.test").contains("text/rfc822-headers")
                    .contains("Subject: just fits").doesNotContain("y".repeat(76));
            laterMailFlows("after-dsn@one.test");
            assertThat(dsnsOf(id)).as("one DSN").hasSize(1);
        } finally {
            limit(outbound, null);
        }
    }
}
