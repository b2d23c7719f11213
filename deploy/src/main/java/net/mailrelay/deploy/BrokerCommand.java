package net.mailrelay.deploy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import net.mailrelay.deploy.broker.EmbeddedBroker;
import net.mailrelay.deploy.config.ConfigException;
import net.mailrelay.deploy.config.Keys;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.record.RecordCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * mail-relay.jar broker: the embedded single-node KRaft broker that {@code standalone} runs, on its own,
 * so that separate {@code edge}, {@code worker} and {@code bounce} processes on one machine (development,
 * the multi-process tests) have a Kafka to share and the broker can be stopped and started without them.
 *
 * <p>Reads and writes: the Kafka log under {@code DIR/kafka} (formatted on first start, reused after).
 * It creates no topics; each relay role creates the ones it misses at start.
 *
 * <p>With {@code broker.quorum} it runs one node of a small cluster on one machine instead (the fault
 * suite's three brokers): {@code broker.node-id}, {@code broker.cluster-id} and this node's own
 * {@code broker.port} and {@code broker.controller-port}, which must match its entry in the quorum.
 *
 * <p>Security: it listens on 127.0.0.1 only (or {@code broker.bind-address}), without TLS or authentication. Not for production, where
 * Kafka is a replicated cluster of its own.
 *
 * <p>Configuration keys: {@code data-dir} (the required {@code --data-dir}), {@code broker.port},
 * {@code broker.controller-port}, {@code message.max-size} (records up to that plus the envelope's room),
 * {@code broker.flush-each-message}, {@code broker.node-id}, {@code broker.quorum}, {@code broker.cluster-id}, {@code broker.bind-address}. Other keys are accepted, as every role accepts every key, and unused.
 */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Runs only the embedded single-node Kafka broker (as standalone does), for development and tests.")
final class BrokerCommand implements Callable<Integer> {

    private static final Logger LOG = LoggerFactory.getLogger(BrokerCommand.class);

    @Option(names = "--data-dir", required = true, paramLabel = "DIR", description = "Where the broker keeps its log.")
    Path dataDir;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Set a configuration key (broker.port, broker.controller-port, message.max-size, "
                    + "broker.flush-each-message); repeatable.")
    List<String> sets = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Map<String, String> cli = new LinkedHashMap<>();
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--set needs KEY=VALUE, not '" + s + "'");
            }
            cli.put(s.substring(0, eq).trim(), s.substring(eq + 1));
        }
        cli.put(Keys.DATA_DIR.name(), dataDir.toString());
        Settings settings = Settings.resolve(Map.of(), null, System.getenv(), cli);
        EmbeddedBroker.Node node;
        try {
            node = new EmbeddedBroker.Node(settings.get(Keys.BROKER_NODE_ID), settings.get(Keys.BROKER_QUORUM),
                    settings.get(Keys.BROKER_CLUSTER_ID), settings.get(Keys.BROKER_BIND));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(Keys.BROKER_QUORUM.name(), String.join(",", settings.get(Keys.BROKER_QUORUM)), e.getMessage());
        }
        EmbeddedBroker broker = EmbeddedBroker.start(settings.get(Keys.DATA_DIR), settings.get(Keys.BROKER_PORT),
                settings.get(Keys.CONTROLLER_PORT), RecordCodec.maxRecordBytes(settings.get(Keys.MAX_MESSAGE_SIZE)),
                settings.get(Keys.FLUSH_EACH_MESSAGE), node,
                new EmbeddedBroker.Threads(settings.get(Keys.BROKER_IO_THREADS), settings.get(Keys.BROKER_NETWORK_THREADS)));
        LOG.info("mail-relay broker running at {} (data in {})", broker.bootstrapServers(), settings.get(Keys.DATA_DIR));
        MailRelay.runUntilStopped(broker);
        return 0;
    }
}
