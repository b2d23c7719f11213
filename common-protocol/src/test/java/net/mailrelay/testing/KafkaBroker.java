package net.mailrelay.testing;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import net.mailrelay.protocol.record.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

/** A running Kafka broker that tests share; see {@link KafkaFixture}. */
public abstract class KafkaBroker implements AutoCloseable {

    /** Big enough for the largest message the relay accepts (25 MiB) plus its envelope. */
    public static final int MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

    public abstract String bootstrapServers();

    /** Which kind of broker this is, for the log. */
    public abstract String description();

    /** Creates the topics (3 partitions each) unless they exist. */
    public void createTopics(Collection<String> names) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            List<NewTopic> topics = names.stream()
                    .map(n -> new NewTopic(n, 3, (short) 1)
                            .configs(Map.of("max.message.bytes", Integer.toString(MAX_MESSAGE_BYTES))))
                    .toList();
            try {
                admin.createTopics(topics).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("creating topics " + names, e.getCause());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Makes the topic refuse every write for now (INVALID_TIMESTAMP: it takes no record stamped before
     * the moment it arrives, and each send is stamped anew), or take them again. A refusal that passes,
     * unlike a record too large for the topic, which is refused for good.
     */
    public void refuseWrites(String topic, boolean refuse) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            admin.incrementalAlterConfigs(Map.of(resource, List.of(new AlterConfigOp(new ConfigEntry(
                    "message.timestamp.before.max.ms", "0"), refuse ? AlterConfigOp.OpType.SET : AlterConfigOp.OpType.DELETE))))
                    .all().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("changing " + topic, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * A topic set no other test has used, created on the broker: each test class gets its own queue
     * while sharing one broker.
     */
    public Topics freshTopics(List<Duration> retryTiers) {
        Topics topics = new Topics("t" + UUID.randomUUID().toString().substring(0, 8) + ".");
        createTopics(topics.all(retryTiers));
        return topics;
    }
}
