package net.mailrelay.deploy.broker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone role's Kafka: a single-node KRaft broker and controller in this process, listening on
 * loopback only. Its log lives under the data directory; the directory is formatted on first start
 * (as {@code kafka-storage.sh format --standalone} would) and reused on every later start, so queued
 * mail survives a restart.
 *
 * <p>The {@code broker} role can also run one node of a small cluster on one machine (the fault suite's
 * three brokers): each node is broker and controller, the controllers form a static quorum, and the
 * internal topics get three replicas (two in sync) when there are three nodes.
 */
public final class EmbeddedBroker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);

    private final KafkaRaftServer server;
    private final String bootstrapServers;

    private EmbeddedBroker(KafkaRaftServer server, String bootstrapServers) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * Which node of which cluster this broker is.
     *
     * @param nodeId this node's id, one of the voters' ids
     * @param voters the controller quorum, {@code id@host:port} each; a single node when empty
     * @param clusterId the cluster id every node is formatted with; random for a single node when null
     * @param host the address it listens on and advertises: 127.0.0.1, or a host of its own (the partition tests)
     */
    public record Node(int nodeId, List<String> voters, String clusterId, String host) {
        public static final Node SINGLE = new Node(1, List.of(), null, "127.0.0.1");

        public Node {
            if (host == null || host.isBlank()) {
                throw new IllegalArgumentException("a broker needs an address to listen on");
            }
            voters = List.copyOf(voters);
            if (!voters.isEmpty() && (clusterId == null || clusterId.isBlank())) {
                throw new IllegalArgumentException("a broker in a quorum needs the cluster id shared by every node");
            }
            if (!voters.isEmpty() && voters.stream().noneMatch(v -> v.startsWith(nodeId + "@"))) {
                throw new IllegalArgumentException("node " + nodeId + " is not one of the voters " + voters);
            }
        }

        boolean single() {
            return voters.isEmpty();
        }
    }

    /**
     * The broker's request handler ({@code num.io.threads}) and network ({@code num.network.threads})
     * threads; 0 keeps Kafka's default, 8 and 3, which is sized for a machine of the broker's own.
     */
    public record Threads(int io, int network) {
        public static final Threads KAFKA_DEFAULTS = new Threads(0, 0);

        public Threads {
            if (io < 0 || network < 0) {
                throw new IllegalArgumentException("thread counts cannot be negative");
            }
        }

        /**
         * For a broker that shares the machine's cores with an edge, a worker and a bounce service
         * (standalone): a handler per core and a network thread per two. Kafka's 11 threads on a 2-core
         * machine mostly wait for the CPU: they cost about a sixth of the throughput and 6-7 ms of the
         * acceptance p99 there (docs/benchmarks.md).
         */
        public static Threads sharing(int cores) {
            return new Threads(Math.max(2, cores), Math.max(1, cores / 2));
        }

        /** These counts where they are set (not 0), else {@code automatic}'s. */
        public Threads or(Threads automatic) {
            return new Threads(io == 0 ? automatic.io : io, network == 0 ? automatic.network : network);
        }
    }

    public static EmbeddedBroker start(Path dataDir, int brokerPort, int controllerPort, int maxRecordBytes,
            boolean flushEveryTopic, Threads threads) throws IOException {
        return start(dataDir, brokerPort, controllerPort, maxRecordBytes, flushEveryTopic, Node.SINGLE, threads);
    }

    /**
     * @param flushEveryTopic fsync each produce batch before the ack (log.flush.interval.messages=1) on
     *        every topic, internal ones included: for the broker role, whose topics are created by other
     *        roles. The standalone role passes false and sets {@code flush.messages=1} on the topics that
     *        carry mail instead (see {@link TopicSetup}), sparing the consumer offsets and the event log.
     */
    public static EmbeddedBroker start(Path dataDir, int brokerPort, int controllerPort, int maxRecordBytes,
            boolean flushEveryTopic, Node node, Threads threads) throws IOException {
        Path logDir = dataDir.resolve("kafka").toAbsolutePath();
        Files.createDirectories(logDir);
        Properties props = properties(logDir, brokerPort, controllerPort, maxRecordBytes, node, threads);
        if (flushEveryTopic) {
            props.put("log.flush.interval.messages", "1");
        }
        return start(dataDir, props, node, node.host() + ":" + brokerPort);
    }

    /** Writes {@code props} to the data directory, formats the log the first time, and starts the broker. */
    static EmbeddedBroker start(Path dataDir, Properties props, Node node, String bootstrap) throws IOException {
        Path logDir = Path.of(props.getProperty("log.dirs"));
        Path config = dataDir.resolve("kafka-server.properties");
        try (OutputStream out = Files.newOutputStream(config)) {
            props.store(out, "written by mail-relay standalone at each start; edits are overwritten");
        }
        if (!Files.exists(logDir.resolve("meta.properties"))) {
            format(config, logDir, node);
        }
        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        server.startup();
        LOG.info("embedded Kafka broker started at {} with its log in {} ({} request handler and {} network threads)", bootstrap,
                logDir, props.getProperty("num.io.threads", "8"), props.getProperty("num.network.threads", "3"));
        return new EmbeddedBroker(server, bootstrap);
    }

    static Properties properties(Path logDir, int brokerPort, int controllerPort, int maxRecordBytes, Node node,
            Threads threads) {
        Properties p = new Properties();
        if (threads.io() > 0) {
            p.put("num.io.threads", Integer.toString(threads.io()));
        }
        if (threads.network() > 0) {
            p.put("num.network.threads", Integer.toString(threads.network()));
        }
        p.put("process.roles", "broker,controller");
        p.put("node.id", Integer.toString(node.nodeId()));
        if (node.single()) {
            p.put("controller.quorum.bootstrap.servers", node.host() + ":" + controllerPort);
        } else {
            p.put("controller.quorum.voters", String.join(",", node.voters()));
        }
        String at = node.host();
        p.put("listeners", "PLAINTEXT://" + at + ":" + brokerPort + ",CONTROLLER://" + at + ":" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://" + at + ":" + brokerPort + ",CONTROLLER://" + at + ":" + controllerPort);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        // One node: internal topics cannot have replicas. Three or more: three replicas, two in sync.
        String replicas = Integer.toString(Math.min(3, Math.max(1, node.voters().size())));
        String minIsr = Integer.toString(Math.min(2, Math.max(1, node.voters().size())));
        p.put("offsets.topic.replication.factor", replicas);
        p.put("transaction.state.log.replication.factor", replicas);
        p.put("transaction.state.log.min.isr", minIsr);
        p.put("share.coordinator.state.topic.replication.factor", replicas);
        p.put("share.coordinator.state.topic.min.isr", minIsr);
        p.put("group.initial.rebalance.delay.ms", "0");
        // Topics are created by the relay with the right settings; a typo must not create a new one.
        p.put("auto.create.topics.enable", "false");
        p.put("message.max.bytes", Integer.toString(maxRecordBytes));
        p.put("replica.fetch.max.bytes", Integer.toString(maxRecordBytes));
        return p;
    }

    private static void format(Path config, Path logDir, Node node) throws IOException {
        String clusterId = node.single() ? Uuid.randomUuid().toString() : node.clusterId();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc;
        try (PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            // A static quorum (controller.quorum.voters) is formatted without naming the controllers.
            String[] args = node.single()
                    ? new String[] {"format", "-t", clusterId, "-c", config.toString(), "--standalone"}
                    : new String[] {"format", "-t", clusterId, "-c", config.toString()};
            rc = StorageTool.execute(args, ps);
        }
        if (rc != 0) {
            throw new IOException("formatting the Kafka log directory " + logDir + " failed: " + out.toString(StandardCharsets.UTF_8));
        }
        LOG.info("formatted new Kafka log directory {} (cluster id {})", logDir, clusterId);
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
        LOG.info("embedded Kafka broker stopped");
    }
}
