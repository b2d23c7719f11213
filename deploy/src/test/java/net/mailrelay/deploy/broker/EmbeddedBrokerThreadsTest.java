package net.mailrelay.deploy.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** How many request handler and network threads the embedded broker is given. */
class EmbeddedBrokerThreadsTest {

    private static Properties properties(EmbeddedBroker.Threads threads) {
        return EmbeddedBroker.properties(Path.of("/var/lib/mail-relay/kafka"), 19092, 19093, 1 << 20,
                EmbeddedBroker.Node.SINGLE, threads);
    }

    /** broker.bind-address: a broker on a host of its own (a namespace of the partition tests) listens and advertises there. */
    @Test
    void aBrokerListensAndAdvertisesWhereItsNodeSays() {
        EmbeddedBroker.Node node = new EmbeddedBroker.Node(2, java.util.List.of("1@10.201.5.10:9093", "2@10.201.5.11:9093"),
                "MkU3OEVBNTcwNTJENDM2Qk", "10.201.5.11");
        Properties p = EmbeddedBroker.properties(Path.of("/var/lib/mail-relay/kafka"), 9092, 9093, 1 << 20, node,
                EmbeddedBroker.Threads.KAFKA_DEFAULTS);
        assertThat(p.getProperty("listeners")).isEqualTo("PLAINTEXT://10.201.5.11:9092,CONTROLLER://10.201.5.11:9093");
        assertThat(p.getProperty("advertised.listeners")).isEqualTo("PLAINTEXT://10.201.5.11:9092,CONTROLLER://10.201.5.11:9093");
        assertThat(properties(EmbeddedBroker.Threads.KAFKA_DEFAULTS).getProperty("listeners")).as("standalone")
                .isEqualTo("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
        assertThatThrownBy(() -> new EmbeddedBroker.Node(1, java.util.List.of(), null, " ")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aStandaloneBrokerGetsAHandlerPerCoreAndANetworkThreadPerTwo() {
        assertThat(EmbeddedBroker.Threads.sharing(1)).isEqualTo(new EmbeddedBroker.Threads(2, 1));
        assertThat(EmbeddedBroker.Threads.sharing(2)).isEqualTo(new EmbeddedBroker.Threads(2, 1));
        assertThat(EmbeddedBroker.Threads.sharing(8)).isEqualTo(new EmbeddedBroker.Threads(8, 4));
    }

    @Test
    void aConfiguredCountWinsOverTheAutomaticOneAndZeroMeansAutomatic() {
        EmbeddedBroker.Threads auto = EmbeddedBroker.Threads.sharing(2);
        assertThat(new EmbeddedBroker.Threads(0, 0).or(auto)).isEqualTo(auto);
        assertThat(new EmbeddedBroker.Threads(6, 0).or(auto)).isEqualTo(new EmbeddedBroker.Threads(6, 1));
        assertThat(new EmbeddedBroker.Threads(0, 3).or(auto)).isEqualTo(new EmbeddedBroker.Threads(2, 3));
        assertThatThrownBy(() -> new EmbeddedBroker.Threads(-1, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theCountsReachTheBrokerConfigurationAndZeroLeavesKafkasDefaults() {
        Properties set = properties(new EmbeddedBroker.Threads(2, 1));
        assertThat(set).containsEntry("num.io.threads", "2").containsEntry("num.network.threads", "1");
        Properties defaults = properties(EmbeddedBroker.Threads.KAFKA_DEFAULTS);
        assertThat(defaults).doesNotContainKey("num.io.threads").doesNotContainKey("num.network.threads");
        assertThat(kafka.server.KafkaConfig.fromProps(set, false).numIoThreads()).isEqualTo(2);
        assertThat(kafka.server.KafkaConfig.fromProps(defaults, false).numIoThreads()).isEqualTo(8);
    }
}
