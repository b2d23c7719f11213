package net.mailrelay.deploy.broker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
     * @param flushEveryTopic fsync each produce batch before the ack (log.flush.interval.messages=1) on
     *        every topic, internal ones included: for the broker role, whose topics are created by other
     *        roles. The standalone role passes false and sets {@code flush.messages=1} on the topics that
     *        carry mail instead (see {@link TopicSetup}), sparing the consumer offsets and the event log.
     */
    public static EmbeddedBroker start(Path dataDir, int brokerPort, int controllerPort, int maxRecordBytes,
            boolean flushEveryTopic) throws IOException {
        Path logDir = dataDir.resolve("kafka").toAbsolutePath();
        Files.createDirectories(logDir);
        Properties props = properties(logDir, brokerPort, controllerPort, maxRecordBytes);
        if (flushEveryTopic) {
            props.put("log.flush.interval.messages", "1");
        }
        Path config = dataDir.resolve("kafka-server.properties");
        try (OutputStream out = Files.newOutputStream(config)) {
            props.store(out, "written by mail-relay standalone at each start; edits are overwritten");
        }
        if (!Files.exists(logDir.resolve("meta.properties"))) {
            format(config, logDir);
        }
        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        server.startup();
        String bootstrap = "127.0.0.1:" + brokerPort;
        LOG.info("embedded Kafka broker started at {} with its log in {}", bootstrap, logDir);
        return new EmbeddedBroker(server, bootstrap);
    }

    static Properties properties(Path logDir, int brokerPort, int controllerPort, int maxRecordBytes) {
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        // One node: internal topics cannot have replicas.
        p.put("offsets.topic.replication.factor", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        // Topics are created by the relay with the right settings; a typo must not create a new one.
        p.put("auto.create.topics.enable", "false");
        p.put("message.max.bytes", Integer.toString(maxRecordBytes));
        p.put("replica.fetch.max.bytes", Integer.toString(maxRecordBytes));
        return p;
    }

    private static void format(Path config, Path logDir) throws IOException {
        String clusterId = Uuid.randomUuid().toString();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc;
        try (PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            rc = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config.toString(), "--standalone"}, ps);
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
