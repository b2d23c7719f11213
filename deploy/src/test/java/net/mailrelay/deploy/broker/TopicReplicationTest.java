package net.mailrelay.deploy.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.mailrelay.deploy.RelayProcess;
import net.mailrelay.deploy.config.ConfigException;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.Ports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

/**
 * Existing topics keep what they were made with, so every role checks them at start. The test broker is
 * a single node: its topics have one replica, and a relay configured for three replicas, two in sync
 * (the production defaults), must say so, show it, and with kafka.require-replication refuse to start.
 */
@ExtendWith(KafkaFixture.class)
class TopicReplicationTest {

    static final Duration TIER = Duration.ofMinutes(1);

    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private final Logger relayLog = (Logger) LoggerFactory.getLogger(RelayProcess.class);

    TopicReplicationTest() {
        log.start();
        relayLog.addAppender(log);
    }

    @AfterEach
    void detach() {
        relayLog.detachAppender(log);
    }

    @Test
    void findsTheReplicasAndTheEffectiveMinInsyncOfEachTopic(KafkaBroker kafka) {
        Topics topics = kafka.freshTopics(List.of());
        List<TopicReplication.Found> found = TopicReplication.describe(KafkaAccess.plaintext(kafka.bootstrapServers()),
                List.of(topics.outbound(), topics.events()), Duration.ofSeconds(30));
        // min.insync.replicas is not set on these topics: the broker's default (1) is what counts.
        assertThat(found).containsExactly(new TopicReplication.Found(topics.outbound(), 1, 1),
                new TopicReplication.Found(topics.events(), 1, 1));
    }

    @Test
    void namesEachShortfall() {
        assertThat(TopicReplication.shortfalls(new TopicReplication.Found("t", 1, 1), 3, 2)).containsExactly(
                "replication factor 1, below kafka.replication-factor=3", "min.insync.replicas 1, below kafka.min-insync-replicas=2");
        assertThat(TopicReplication.shortfalls(new TopicReplication.Found("t", 3, 1), 3, 1))
                .containsExactly("min.insync.replicas 1 with 3 replicas: acks=all is satisfied by a single copy");
        assertThat(TopicReplication.shortfalls(new TopicReplication.Found("t", 1, 2), 1, 2))
                .containsExactly("min.insync.replicas 2 with only 1 replicas: every acks=all write fails");
        assertThat(TopicReplication.shortfalls(new TopicReplication.Found("t", 3, 2), 3, 2)).isEmpty();
        assertThat(TopicReplication.shortfalls(new TopicReplication.Found("t", 1, 1), 1, 1)).as("standalone").isEmpty();
    }

    @Test
    void aRoleStartingOnUnderReplicatedTopicsWarnsAndShowsThem(KafkaBroker kafka) throws Exception {
        Topics topics = existingTopics(kafka);
        int http = Ports.free();
        try (RelayProcess p = RelayProcess.start(RelayProcess.Role.BOUNCE, settings(kafka, topics, http, false))) {
            assertThat(warnings()).contains("topic " + topics.outbound() + ": replication factor 1, below kafka.replication-factor=3; "
                    + "min.insync.replicas 1, below kafka.min-insync-replicas=2; an acknowledged message may have fewer copies "
                    + "than configured (kafka.require-replication=true refuses to start)");
            assertThat(warnings()).anyMatch(w -> w.startsWith("topic " + topics.retryTier(TIER) + ": "))
                    .anyMatch(w -> w.startsWith("topic " + topics.suppression() + ": "));
            String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/metrics"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics.lines()).anyMatch(l -> l.matches("mailrelay_kafka_topic_replication\\{.*topic=\"mail\\.outbound\".*} 1\\.0"))
                    .anyMatch(l -> l.matches("mailrelay_kafka_topic_min_insync\\{.*topic=\"mail\\.retry\\.1m\".*} 1\\.0"));
        }
    }

    @Test
    void withRequireReplicationARoleRefusesToStart(KafkaBroker kafka) {
        Topics topics = existingTopics(kafka);
        assertThatThrownBy(() -> RelayProcess.start(RelayProcess.Role.BOUNCE, settings(kafka, topics, 0, true)))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("configuration key 'kafka.require-replication' = 'true': ")
                .hasMessageContaining("topic " + topics.outbound() + ": replication factor 1, below kafka.replication-factor=3");
    }

    /** The relay's topics, made beforehand as a single broker allows: one replica each. */
    static Topics existingTopics(KafkaBroker kafka) {
        Topics topics = new Topics("repl" + UUID.randomUUID().toString().substring(0, 8) + ".");
        List<String> names = new ArrayList<>(topics.all(List.of(TIER)));
        names.add(topics.suppression());
        kafka.createTopics(names);
        return topics;
    }

    static Settings settings(KafkaBroker kafka, Topics topics, int httpPort, boolean require) {
        return Settings.of(Map.of("kafka.bootstrap-servers", kafka.bootstrapServers(), "kafka.topic-prefix", topics.prefix(),
                "kafka.replication-factor", "3", "kafka.min-insync-replicas", "2",
                "kafka.require-replication", Boolean.toString(require), "queue.retry-tiers", "1m", "hostname", "relay.test",
                "http.bind-address", "127.0.0.1", "http.port", Integer.toString(httpPort)));
    }

    private List<String> warnings() {
        return log.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
    }
}
