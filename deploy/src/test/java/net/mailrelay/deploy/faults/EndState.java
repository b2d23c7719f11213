package net.mailrelay.deploy.faults;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import net.mailrelay.protocol.record.RecordHeaders;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * What a scenario left behind once its mail has settled: records the workers still hold (their
 * {@code mailrelay_queue_in_flight}), and partitions whose committed offset has not reached the end.
 * Both must be empty. A leak of either is how a stalled partition shows, and the reconciliation cannot
 * see it: the mail got through on the other partitions, or on a copy, while the stalled one stopped
 * committing (issue 15, defect 1) and will be read again after the next rebalance.
 *
 * <p>A retry tier may legitimately hold records that are not yet due. The suite's tiers and backoffs
 * are seconds long, so once every recipient has settled, every record still in a tier falls due within
 * {@code queue.max-backoff}; the caller waits that long before it calls a partition behind.
 */
final class EndState {

    private static final Duration TIMEOUT = Duration.ofSeconds(15);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** A consumer group and the topics it must have consumed to their end. */
    record Group(String id, List<String> topics) {
    }

    /** A partition whose group's committed offset is short of its end; {@code head} describes the first record not committed. */
    record Behind(String group, TopicPartition partition, long committed, long end, String head) {
        @Override
        public String toString() {
            return group + " " + partition + ": committed " + (committed < 0 ? "nothing" : committed) + ", end " + end + " ("
                    + (end - Math.max(0, committed)) + " behind; first not committed: " + head + ")";
        }
    }

    /** What one look found: each worker's in-flight gauge, and the partitions behind. */
    record Found(Map<String, Long> inFlight, List<Behind> behind) {
        boolean clean() {
            return inFlight.values().stream().allMatch(n -> n == 0) && behind.isEmpty();
        }
    }

    private EndState() {
    }

    static Found of(RelayCluster cluster, List<Group> groups) {
        return new Found(inFlight(cluster), behind(cluster.bootstrapServers(), groups));
    }

    /**
     * Waits until nothing is left, for at most {@code atMost}; then notes what is, each partition behind
     * with the first record it has not committed.
     */
    static Found await(RelayCluster cluster, List<Group> groups, Duration atMost, Consumer<String> note) {
        AtomicReference<Found> left = new AtomicReference<>();
        long start = System.nanoTime();
        try {
            Awaitility.await().atMost(atMost).pollInterval(Duration.ofSeconds(2)).ignoreExceptions().until(() -> {
                left.set(of(cluster, groups));
                return left.get().clean();
            });
            note.accept(String.format(Locale.ROOT, "nothing left behind %.1f s after the mail settled: in flight %s, every "
                    + "partition committed to its end", (System.nanoTime() - start) / 1e9, left.get().inFlight()));
        } catch (ConditionTimeoutException e) {
            left.set(withHeads(cluster.bootstrapServers(), left.get() != null ? left.get() : of(cluster, groups)));
            note.accept(String.format("left behind %d s after the mail settled: in flight %s; %d partitions not committed to "
                    + "their end", atMost.toSeconds(), left.get().inFlight(), left.get().behind().size()));
            left.get().behind().forEach(b -> note.accept("  " + b));
        }
        return left.get();
    }

    /** Each worker's {@code mailrelay_queue_in_flight}, or -1 where its /metrics could not be read. */
    static Map<String, Long> inFlight(RelayCluster cluster) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String worker : cluster.named("worker")) {
            out.put(worker, gauge(cluster.at(worker), cluster.httpPort(worker), "mailrelay_queue_in_flight"));
        }
        return out;
    }

    private static long gauge(String host, int port, String name) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/metrics"))
                    .timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            // One series per process: name{role="worker",...} value
            return r.body().lines().filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                    .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Every partition of the groups' topics whose committed offset is short of the partition's end. */
    static List<Behind> behind(String bootstrapServers, List<Group> groups) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis()))) {
            List<Behind> out = new ArrayList<>();
            for (Group g : groups) {
                Map<TopicPartition, OffsetAndMetadata> committed = committed(admin, g.id());
                List<TopicPartition> partitions = new ArrayList<>();
                for (TopicDescription d : get(admin.describeTopics(g.topics()).allTopicNames()).values()) {
                    d.partitions().forEach(p -> partitions.add(new TopicPartition(d.name(), p.partition())));
                }
                Map<TopicPartition, OffsetSpec> latest = partitions.stream().collect(Collectors.toMap(Function.identity(),
                        tp -> OffsetSpec.latest()));
                get(admin.listOffsets(latest).all()).forEach((tp, info) -> {
                    OffsetAndMetadata c = committed.get(tp);
                    // No commit is the same as offset 0 (auto.offset.reset=earliest): behind only if there is a record.
                    if ((c == null ? 0 : c.offset()) < info.offset()) {
                        out.add(new Behind(g.id(), tp, c == null ? -1 : c.offset(), info.offset(), null));
                    }
                });
            }
            return out;
        }
    }

    /** The same partitions, each with the record at its committed offset described: its key and when it is due. */
    private static Found withHeads(String bootstrapServers, Found found) {
        return new Found(found.inFlight(), withHeads(bootstrapServers, found.behind()));
    }

    private static List<Behind> withHeads(String bootstrapServers, List<Behind> behind) {
        if (behind.isEmpty()) {
            return behind;
        }
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers, ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<Behind> out = new ArrayList<>();
            for (Behind b : behind) {
                consumer.assign(List.of(b.partition()));
                consumer.seek(b.partition(), Math.max(0, b.committed()));
                String head = "not read within " + TIMEOUT.toSeconds() + " s";
                long until = System.nanoTime() + TIMEOUT.toNanos();
                while (System.nanoTime() < until) {
                    var records = consumer.poll(Duration.ofMillis(500));
                    if (!records.isEmpty()) {
                        head = describe(records.iterator().next());
                        break;
                    }
                }
                out.add(new Behind(b.group(), b.partition(), b.committed(), b.end(), head));
            }
            return out;
        }
    }

    private static String describe(ConsumerRecord<String, byte[]> r) {
        Header due = r.headers().lastHeader(RecordHeaders.NOT_BEFORE);
        String when = "no due time";
        if (due != null) {
            long at = Long.parseLong(new String(due.value(), StandardCharsets.US_ASCII));
            long in = at - System.currentTimeMillis();
            when = in > 0 ? "due in " + in / 1000 + " s" : "due since " + (-in / 1000) + " s (" + Instant.ofEpochMilli(at) + ")";
        }
        return "offset " + r.offset() + ", key " + r.key() + ", written " + Instant.ofEpochMilli(r.timestamp()) + ", " + when;
    }

    private static Map<TopicPartition, OffsetAndMetadata> committed(Admin admin, String group) {
        try {
            Map<TopicPartition, OffsetAndMetadata> out = new LinkedHashMap<>();
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .forEach((tp, o) -> {
                        if (o != null) {
                            out.put(tp, o);
                        }
                    });
            return out;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) {
                return Map.of(); // never committed: every partition with a record is behind
            }
            throw new IllegalStateException("offsets of group " + group + ": " + e.getCause(), e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not give the offsets of group " + group + " within " + TIMEOUT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static <T> T get(org.apache.kafka.common.KafkaFuture<T> f) {
        try {
            return f.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause().toString(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not answer within " + TIMEOUT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
