package net.mailrelay.deploy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import net.mailrelay.deploy.broker.SuppressionTopic;
import net.mailrelay.deploy.config.KafkaSecurity;
import net.mailrelay.deploy.config.Keys;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.record.SuppressionEntry;
import net.mailrelay.protocol.record.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mail-relay.jar suppression list|add|remove}: the suppression list, read and changed through its
 * Kafka topic; the workers' caches follow within a second.
 */
@Command(name = "suppression", mixinStandardHelpOptions = true,
        description = "Lists, adds or removes addresses on the suppression list (hard-bounced addresses).",
        subcommands = {SuppressionCommand.ListEntries.class, SuppressionCommand.Add.class, SuppressionCommand.Remove.class})
public final class SuppressionCommand {

    /** Where the list lives: the same settings as the roles. */
    static final class Connection {
        @Option(names = "--config", paramLabel = "FILE", description = "Configuration file.")
        Path config;
        @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]", description = "Kafka brokers.")
        String bootstrapServers;
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set any configuration key; repeatable.")
        List<String> sets = new ArrayList<>();

        Settings settings() {
            Map<String, String> cli = new LinkedHashMap<>();
            if (bootstrapServers != null) {
                cli.put(Keys.BOOTSTRAP_SERVERS.name(), bootstrapServers);
            }
            for (String s : sets) {
                int eq = s.indexOf('=');
                cli.put(s.substring(0, Math.max(eq, 0)), s.substring(eq + 1));
            }
            return Settings.resolve(Map.of(), config, System.getenv(), cli);
        }

        SuppressionTopic topic(Settings s) {
            return new SuppressionTopic(KafkaSecurity.access(s, s.get(Keys.BOOTSTRAP_SERVERS)), new Topics(s.get(Keys.TOPIC_PREFIX)).suppression());
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Prints the addresses suppressed now.")
    static final class ListEntries implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @picocli.CommandLine.Mixin
        Connection connection;

        @Override
        public Integer call() {
            Settings s = connection.settings();
            for (SuppressionEntry e : connection.topic(s).list()) {
                spec.commandLine().getOut().printf("%s\tuntil %s\t%s%n", e.address(), Instant.ofEpochMilli(e.expiresAtMillis()),
                        e.reason());
            }
            return 0;
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = "Suppresses addresses by hand.")
    static final class Add implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;
        @Option(names = "--reason", defaultValue = "added by an operator", description = "Why.")
        String reason;
        @Parameters(arity = "1..*", paramLabel = "ADDRESS")
        List<String> addresses;

        @Override
        public Integer call() {
            Settings s = connection.settings();
            Duration ttl = s.get(Keys.SUPPRESSION_TTL);
            SuppressionTopic t = connection.topic(s);
            addresses.forEach(a -> t.add(a, reason, ttl));
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Takes addresses off the list.")
    static final class Remove implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Connection connection;
        @Parameters(arity = "1..*", paramLabel = "ADDRESS")
        List<String> addresses;

        @Override
        public Integer call() {
            Settings s = connection.settings();
            connection.topic(s).remove(addresses);
            return 0;
        }
    }
}
