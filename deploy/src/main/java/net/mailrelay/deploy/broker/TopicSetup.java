package net.mailrelay.deploy.broker;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.protocol.record.KafkaAccess;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the relay's topics at start when they are missing (every role does this; it is idempotent),
 * sized for the largest record the relay writes. Existing topics are left as they are.
 */
public final class TopicSetup {

    private static final Logger LOG = LoggerFactory.getLogger(TopicSetup.class);

    private TopicSetup() {
    }

    /**
     * The suppression list's topic: compacted (the latest entry per address is kept) and deleting what is
     * older than the entries can live, so an address that stopped bouncing drops off by itself.
     */
    public static void ensureCompacted(KafkaAccess kafka, String topic, int partitions, int replication, int minInsync,
            Duration retention, Duration timeout) {
        Map<String, String> config = Map.of("cleanup.policy", "compact,delete", "retention.ms",
                Long.toString(retention.toMillis()), "min.insync.replicas", Integer.toString(minInsync));
        create(kafka, List.of(topic), partitions, replication, config, timeout);
    }

    /**
     * @param flushEachMessage fsync every produce batch before acknowledging it ({@code flush.messages=1});
     *     for a single broker, where there is no replica to keep the data
     */
    public static void ensure(KafkaAccess kafka, List<String> topics, int partitions, int replication,
            int minInsync, int maxRecordBytes, boolean flushEachMessage, Duration timeout) {
        Map<String, String> config = new HashMap<>();
        config.put("max.message.bytes", Integer.toString(maxRecordBytes));
        config.put("min.insync.replicas", Integer.toString(minInsync));
        if (flushEachMessage) {
            config.put("flush.messages", "1");
        }
        create(kafka, topics, partitions, replication, config, timeout);
    }

    private static void create(KafkaAccess kafka, List<String> topics, int partitions, int replication,
            Map<String, String> config, Duration timeout) {
        Map<String, Object> admin = kafka.config(Map.of(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis()));
        try (Admin a = Admin.create(admin)) {
            Set<String> existing = a.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            List<NewTopic> missing = topics.stream().filter(t -> !existing.contains(t))
                    .map(t -> new NewTopic(t, partitions, (short) replication).configs(config)).toList();
            if (missing.isEmpty()) {
                return;
            }
            for (var entry : a.createTopics(missing).values().entrySet()) {
                try {
                    entry.getValue().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    LOG.info("created topic {} ({} partitions, replication {})", entry.getKey(), partitions, replication);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + entry.getKey() + ": " + e.getCause().getMessage(), e);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot reach Kafka at " + kafka + " to create topics: " + e, e);
        }
    }
}
