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
