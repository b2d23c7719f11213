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
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
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

    /** Kafka's transaction log, where a transaction's commit is decided. */
    public static final String TRANSACTION_LOG = "__transaction_state";

    /**
     * Flushes Kafka's transaction log before each acknowledgement, as the topics that carry mail are, on a
     * single broker: an edge's commit is only as durable as its entry there (the record is written, but
     * a transaction whose commit a power cut took is left open, and then aborted: its mail was answered
     * 250). Kafka makes the log on the first transactional producer's start and takes no settings for it,
     * so a producer of {@code transactionalId} (the edge's own, which the edge then takes over) starts
     * first, and the setting is given to the topic afterwards, before any mail is taken.
     */
    public static void flushTransactionLog(KafkaAccess kafka, String transactionalId, Duration timeout) {
        Map<String, Object> c = kafka.producer("mail-relay-setup", 1 << 20,
                Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId, ProducerConfig.MAX_BLOCK_MS_CONFIG, timeout.toMillis()));
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(c, new ByteArraySerializer(), new ByteArraySerializer())) {
            p.initTransactions();
        }
        Map<String, Object> admin = kafka.config(Map.of(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis()));
        try (Admin a = Admin.create(admin)) {
            a.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, TRANSACTION_LOG),
                    List.of(new AlterConfigOp(new ConfigEntry("flush.messages", "1"), AlterConfigOp.OpType.SET))))
                    .all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while setting up " + TRANSACTION_LOG, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not make Kafka flush " + TRANSACTION_LOG + ": " + e, e);
        }
        LOG.info("{} is flushed before each acknowledgement, as the topics that carry mail", TRANSACTION_LOG);
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
