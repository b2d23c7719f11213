package net.mailrelay.testing;

import java.time.Duration;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * Supplies one real Kafka broker to every test in the JVM: Testcontainers' {@link KafkaContainer} where a
 * Docker engine is available, otherwise an in-JVM single-node KRaft broker from Kafka's own test kit. The
 * broker starts once (it takes seconds) and stops when the test run ends. Use it with
 * {@code @ExtendWith(KafkaFixture.class)} and take a {@link KafkaBroker} parameter.
 */
public final class KafkaFixture implements BeforeAllCallback, ParameterResolver {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaFixture.class);
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KafkaFixture.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        broker(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == KafkaBroker.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return broker(context);
    }

    public static KafkaBroker broker(ExtensionContext context) {
        return context.getRoot().getStore(NS).computeIfAbsent("broker", k -> start(), KafkaBroker.class);
    }

    private static KafkaBroker start() {
        long t0 = System.nanoTime();
        KafkaBroker broker = DockerClientFactory.instance().isDockerAvailable() ? new ContainerBroker() : new InJvmBroker();
        LOG.info("Kafka for tests: {} at {}, ready in {} ms", broker.description(), broker.bootstrapServers(),
                Duration.ofNanos(System.nanoTime() - t0).toMillis());
        return broker;
    }

    private static final class ContainerBroker extends KafkaBroker {
        private final KafkaContainer container;

        ContainerBroker() {
            container = new KafkaContainer("apache/kafka:4.1.0")
                    .withEnv("KAFKA_MESSAGE_MAX_BYTES", Integer.toString(MAX_MESSAGE_BYTES))
                    .withEnv("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
            container.start();
        }

        @Override
        public String bootstrapServers() {
            return container.getBootstrapServers();
        }

        @Override
        public String description() {
            return "Testcontainers KafkaContainer " + container.getDockerImageName();
        }

        @Override
        public void close() {
            container.stop();
        }
    }

    /**
     * A cluster of its own, in this JVM, for a test that needs more than one broker or settings of its
     * own; the caller closes it.
     */
    public static KafkaBroker inJvmCluster(int brokers, java.util.Map<String, String> config) {
        return new InJvmBroker(brokers, config);
    }

    private static final class InJvmBroker extends KafkaBroker {
        private final KafkaClusterTestKit cluster;

        InJvmBroker() {
            this(1, java.util.Map.of());
        }

        InJvmBroker(int brokers, java.util.Map<String, String> config) {
            try {
                KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                                .setCombined(true)
                                .setNumBrokerNodes(brokers)
                                .setNumControllerNodes(1)
                                .build())
                        .setConfigProp("message.max.bytes", Integer.toString(MAX_MESSAGE_BYTES))
                        .setConfigProp("group.initial.rebalance.delay.ms", "0")
                        .setConfigProp("offsets.topic.replication.factor", "1")
                        .setConfigProp("transaction.state.log.replication.factor", "1")
                        .setConfigProp("transaction.state.log.min.isr", "1");
                config.forEach(builder::setConfigProp);
                cluster = builder.build();
                cluster.format();
                cluster.startup();
                cluster.waitForReadyBrokers();
            } catch (Exception e) {
                throw new IllegalStateException("could not start the in-JVM Kafka broker", e);
            }
        }

        @Override
        public String bootstrapServers() {
            return cluster.bootstrapServers();
        }

        @Override
        public String description() {
            return "in-JVM KRaft broker (KafkaClusterTestKit; no Docker engine here)";
        }

        @Override
        public void close() throws Exception {
            cluster.close();
        }
    }
}
