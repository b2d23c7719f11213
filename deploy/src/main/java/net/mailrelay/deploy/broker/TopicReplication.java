package net.mailrelay.deploy.broker;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.protocol.record.KafkaAccess;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.RetriableException;

/**
 * What the relay's topics really have. {@link TopicSetup} creates a missing topic with
 * {@code kafka.replication-factor} and {@code kafka.min-insync-replicas} but leaves an existing one as
 * it is, and an existing topic (made by hand, by an older release, on a smaller cluster) may keep fewer
 * copies than the 250 is meant to promise: with {@code acks=all}, a message is acknowledged once
 * min.insync.replicas replicas have it, so min.insync.replicas 1 means one copy however many replicas
 * the topic has. Every role describes the topics at start, warns, and shows them as gauges.
 */
public final class TopicReplication {

    /**
     * One topic as found.
     *
     * @param replicas the fewest replicas of any of its partitions
     * @param minInsync its effective min.insync.replicas (the topic's own, else the broker's default)
     */
    public record Found(String topic, int replicas, int minInsync) {
    }

    private TopicReplication() {
    }

    /**
     * Describes each topic; all must exist. A topic created a moment ago (by {@link TopicSetup}, on a first
     * start) may not yet be known to the broker that answers, so that answer is asked again until the
     * timeout.
     */
    public static List<Found> describe(KafkaAccess kafka, Collection<String> topics, Duration timeout) {
        Map<String, Object> admin = kafka.config(Map.of(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis()));
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Admin a = Admin.create(admin)) {
            while (true) {
                try {
                    return describe(a, topics, timeout);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof RetriableException) || System.nanoTime() > deadline) {
                        throw e;
                    }
                    TimeUnit.MILLISECONDS.sleep(100);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while describing topics", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot describe the topics " + topics + " at " + kafka + ": " + e, e);
        }
    }

    private static List<Found> describe(Admin a, Collection<String> topics, Duration timeout)
            throws ExecutionException, TimeoutException, InterruptedException {
        Map<String, TopicDescription> descriptions = a.describeTopics(topics).allTopicNames()
                .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        List<ConfigResource> resources = topics.stream().map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, Config> configs = a.describeConfigs(resources).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        List<Found> found = new ArrayList<>();
        for (ConfigResource r : resources) {
            int replicas = descriptions.get(r.name()).partitions().stream().mapToInt(p -> p.replicas().size()).min().orElse(0);
            ConfigEntry minInsync = configs.get(r).get(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG);
            found.add(new Found(r.name(), replicas, minInsync == null ? 1 : Integer.parseInt(minInsync.value())));
        }
        return found;
    }

    /** What falls short of the settings, in words for the log; empty when nothing does. */
    public static List<String> shortfalls(Found f, int wantedReplicas, int wantedMinInsync) {
        List<String> out = new ArrayList<>();
        if (f.replicas() < wantedReplicas) {
            out.add("replication factor " + f.replicas() + ", below kafka.replication-factor=" + wantedReplicas);
        }
        if (f.minInsync() > f.replicas()) {
            out.add("min.insync.replicas " + f.minInsync() + " with only " + f.replicas() + " replicas: every acks=all write fails");
        } else if (f.minInsync() < wantedMinInsync) {
            out.add("min.insync.replicas " + f.minInsync() + ", below kafka.min-insync-replicas=" + wantedMinInsync);
        } else if (f.minInsync() <= 1 && f.replicas() > 1) {
            out.add("min.insync.replicas " + f.minInsync() + " with " + f.replicas()
                    + " replicas: acks=all is satisfied by a single copy");
        }
        return out;
    }

    /**
     * {@code mailrelay.kafka.topic.replication} and {@code mailrelay.kafka.topic.min.insync}, tagged with
     * the topic without the relay's prefix; as found at start.
     */
    public static void register(MeterRegistry registry, String topicPrefix, List<Found> found) {
        for (Found f : found) {
            String topic = f.topic().startsWith(topicPrefix) ? f.topic().substring(topicPrefix.length()) : f.topic();
            Gauge.builder("mailrelay.kafka.topic.replication", f, Found::replicas).strongReference(true)
                    .description("Fewest replicas of any partition of the topic, as found at start").tag("topic", topic)
                    .register(registry);
            Gauge.builder("mailrelay.kafka.topic.min.insync", f, Found::minInsync).strongReference(true)
                    .description("The topic's effective min.insync.replicas, as found at start").tag("topic", topic)
                    .register(registry);
        }
    }
}
