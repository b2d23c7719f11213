package net.mailrelay.deploy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import net.mailrelay.deploy.bench.BenchCommand;
import net.mailrelay.deploy.config.ConfigException;
import net.mailrelay.deploy.config.Key;
import net.mailrelay.deploy.config.Keys;
import net.mailrelay.deploy.config.Settings;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * mail-relay.jar: one jar, one command per role. {@code standalone} runs everything in one process
 * with an embedded Kafka broker; {@code edge}, {@code worker} and {@code bounce} run one role each
 * against an external Kafka and Hazelcast, for a horizontally scaled cluster.
 */
@Command(name = "mail-relay", mixinStandardHelpOptions = true, version = "mail-relay 0.1.0",
        description = "A clustered SMTP relay: stateless SMTP edges, Kafka as the queue, Hazelcast for shared state.",
        subcommands = {MailRelay.Standalone.class, MailRelay.Edge.class, MailRelay.Worker.class, MailRelay.Bounce.class,
                BrokerCommand.class, UsersCommand.class, DkimCommand.class, SecretCommand.class, SuppressionCommand.class, QueueCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class MailRelay {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        return new CommandLine(new MailRelay())
                .setParameterExceptionHandler((e, args) -> {
                    CommandLine cmd = e.getCommandLine();
                    String role = cmd.getCommandName();
                    if (e instanceof CommandLine.UnmatchedArgumentException u && cmd.getCommand() instanceof RoleCommand) {
                        List<String> options = u.getUnmatched().stream().filter(a -> a.startsWith("-")).toList();
                        cmd.getErr().println("mail-relay " + role + ": the " + role + " role does not take "
                                + String.join(" ", options.isEmpty() ? u.getUnmatched() : options)
                                + " (its options: mail-relay " + role + " --help)");
                    } else {
                        cmd.getErr().println("mail-relay " + role + ": " + e.getMessage());
                    }
                    return 2;
                })
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    if (e instanceof ConfigException) {
                        cmd.getErr().println("mail-relay: " + e.getMessage());
                        return 2;
                    }
                    throw e;
                });
    }

    /** A group of named options, each setting a configuration key; a role takes the groups it uses. */
    interface OptionGroup {
        void into(Map<String, String> m);

        static void put(Map<String, String> m, Key<?> key, Object value) {
            if (value != null) {
                m.put(key.name(), value.toString());
            }
        }
    }

    /** What every role takes. */
    static final class CommonOptions {
        @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (Java properties; keys in docs/configuration.md).")
        Path config;
        @Option(names = "--hostname", description = "Host name in greetings, Received: headers and DSNs.")
        String hostname;
        @Option(names = "--http-port", description = "Port for /metrics and /health (0 = off).")
        Integer httpPort;
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set any configuration key; repeatable.")
        List<String> sets = new ArrayList<>();

        void named(Map<String, String> m) {
            OptionGroup.put(m, Keys.HOSTNAME, hostname);
            OptionGroup.put(m, Keys.HTTP_PORT, httpPort);
        }

        /** After the named options: {@code --set} has the last word. */
        void sets(Map<String, String> m) {
            for (String s : sets) {
                int eq = s.indexOf('=');
                if (eq <= 0) {
                    throw new ConfigException("--set needs KEY=VALUE, not '" + s + "'");
                }
                m.put(s.substring(0, eq).trim(), s.substring(eq + 1));
            }
        }
    }

    /** The external Kafka (every role but standalone, which embeds its broker). */
    static final class KafkaOptions implements OptionGroup {
        @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]", description = "External Kafka brokers.")
        String bootstrapServers;

        @Override
        public void into(Map<String, String> m) {
            OptionGroup.put(m, Keys.BOOTSTRAP_SERVERS, bootstrapServers);
        }
    }

    /** The Hazelcast cluster of the edges and workers. */
    static final class HazelcastOptions implements OptionGroup {
        @Option(names = "--hazelcast-members", paramLabel = "HOST:PORT[,...]", description = "Hazelcast members to join.")
        String hazelcastMembers;

        @Override
        public void into(Map<String, String> m) {
            OptionGroup.put(m, Keys.HAZELCAST_MEMBERS, hazelcastMembers);
        }
    }

    /** The SMTP listeners and who may relay (edge, standalone). */
    static final class SmtpOptions implements OptionGroup {
        @Option(names = "--smtp-port", description = "MX listener port (standalone default 2525; 0 = off).")
        Integer smtpPort;
        @Option(names = "--submission-port", description = "Submission listener port, STARTTLS + AUTH (standalone default 2587; 0 = off).")
        Integer submissionPort;
        @Option(names = "--smtps-port", description = "Submissions listener port, implicit TLS + AUTH (standalone default 2465; 0 = off).")
        Integer smtpsPort;
        @Option(names = "--users-file", paramLabel = "FILE", description = "AUTH users file (see the users command).")
        Path usersFile;
        @Option(names = "--trusted-networks", paramLabel = "CIDR[,CIDR]", description = "Clients that may relay anywhere (default 127.0.0.0/8,::1/128).")
        String trustedNetworks;
        @Option(names = "--relay-domains", paramLabel = "D[,D]", description = "Domains accepted from anyone.")
        String relayDomains;

        @Override
        public void into(Map<String, String> m) {
            OptionGroup.put(m, Keys.SMTP_PORT, smtpPort);
            OptionGroup.put(m, Keys.SUBMISSION_PORT, submissionPort);
            OptionGroup.put(m, Keys.SMTPS_PORT, smtpsPort);
            OptionGroup.put(m, Keys.USERS_FILE, usersFile);
            OptionGroup.put(m, Keys.TRUSTED_NETWORKS, trustedNetworks);
            OptionGroup.put(m, Keys.RELAY_DOMAINS, relayDomains);
        }
    }

    /** Where mail goes (worker, standalone). */
    static final class DeliveryOptions implements OptionGroup {
        @Option(names = "--route", paramLabel = "DOMAIN=HOST:PORT",
                description = "Static route that bypasses MX lookup; repeatable; '*' is a smarthost for all domains.")
        List<String> routes = new ArrayList<>();
        @Option(names = "--dns-server", paramLabel = "HOST:PORT", description = "DNS server for MX lookups (default: system resolver).")
        String dnsServer;

        @Override
        public void into(Map<String, String> m) {
            if (!routes.isEmpty()) {
                m.put(Keys.ROUTES.name(), String.join(",", routes));
            }
            OptionGroup.put(m, Keys.DNS_SERVER, dnsServer);
        }
    }

    /**
     * Runs a role until the process is told to stop (SIGTERM or Ctrl-C). Each role takes only the
     * options it uses ({@link #groups}); any other is refused by name, so that a manifest cannot carry
     * a dead setting.
     */
    abstract static class RoleCommand implements Callable<Integer> {
        @Mixin
        CommonOptions options;

        abstract RelayProcess.Role role();

        /** The option groups this role takes, besides the common ones. */
        abstract List<OptionGroup> groups();

        Map<String, String> roleDefaults() {
            return Map.of();
        }

        Map<String, String> extraCommandLine() {
            return Map.of();
        }

        @Override
        public Integer call() throws Exception {
            Map<String, String> cli = new LinkedHashMap<>();
            options.named(cli);
            groups().forEach(g -> g.into(cli));
            options.sets(cli);
            cli.putAll(extraCommandLine());
            Settings settings = Settings.resolve(roleDefaults(), options.config, System.getenv(), cli);
            runUntilStopped(RelayProcess.start(role(), settings));
            return 0;
        }
    }

    /** Blocks until the JVM is told to stop (SIGTERM, SIGINT), then closes {@code process} from the shutdown hook. */
    static void runUntilStopped(AutoCloseable process) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                process.close();
            } catch (Exception e) {
                LoggerFactory.getLogger(MailRelay.class).warn("stopping: {}", e.toString());
            }
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
    }

    @Command(name = "standalone", mixinStandardHelpOptions = true,
            description = "Everything in one process: an embedded single-node Kafka broker, a Hazelcast member, "
                    + "and the edge, worker and bounce roles.")
    static final class Standalone extends RoleCommand {
        @Option(names = "--data-dir", paramLabel = "DIR", description = "Where the embedded broker keeps the queue (default ./data).")
        Path dataDir;
        @Mixin
        SmtpOptions smtp;
        @Mixin
        DeliveryOptions delivery;

        @Override
        RelayProcess.Role role() {
            return RelayProcess.Role.STANDALONE;
        }

        @Override
        List<OptionGroup> groups() {
            return List.of(smtp, delivery);
        }

        @Override
        Map<String, String> roleDefaults() {
            return Map.ofEntries(Map.entry(Keys.SMTP_PORT.name(), "2525"), Map.entry(Keys.SUBMISSION_PORT.name(), "2587"),
                    Map.entry(Keys.SMTPS_PORT.name(), "2465"), Map.entry(Keys.HTTP_PORT.name(), "8025"),
                    Map.entry(Keys.PARTITIONS.name(), "6"), Map.entry(Keys.REPLICATION.name(), "1"),
                    Map.entry(Keys.MIN_INSYNC.name(), "1"), Map.entry(Keys.SMTP_BIND.name(), "127.0.0.1"),
                    Map.entry(Keys.SUBMISSION_BIND.name(), "127.0.0.1"), Map.entry(Keys.SMTPS_BIND.name(), "127.0.0.1"),
                    Map.entry(Keys.HTTP_BIND.name(), "127.0.0.1"));
        }

        @Override
        Map<String, String> extraCommandLine() {
            return dataDir == null ? Map.of() : Map.of(Keys.DATA_DIR.name(), dataDir.toString());
        }
    }

    @Command(name = "edge", mixinStandardHelpOptions = true,
            description = "The SMTP server: accepts mail and publishes it to Kafka (needs --bootstrap-servers).")
    static final class Edge extends RoleCommand {
        @Mixin
        KafkaOptions kafka;
        @Mixin
        HazelcastOptions hazelcast;
        @Mixin
        SmtpOptions smtp;

        @Override
        RelayProcess.Role role() {
            return RelayProcess.Role.EDGE;
        }

        @Override
        List<OptionGroup> groups() {
            return List.of(kafka, hazelcast, smtp);
        }
    }

    @Command(name = "worker", mixinStandardHelpOptions = true,
            description = "Delivers queued mail over SMTP, with retries (needs --bootstrap-servers).")
    static final class Worker extends RoleCommand {
        @Mixin
        KafkaOptions kafka;
        @Mixin
        HazelcastOptions hazelcast;
        @Mixin
        DeliveryOptions delivery;

        @Override
        RelayProcess.Role role() {
            return RelayProcess.Role.WORKER;
        }

        @Override
        List<OptionGroup> groups() {
            return List.of(kafka, hazelcast, delivery);
        }
    }

    @Command(name = "bounce", mixinStandardHelpOptions = true,
            description = "Sends delivery status notifications for failed mail (needs --bootstrap-servers).")
    static final class Bounce extends RoleCommand {
        @Mixin
        KafkaOptions kafka;

        @Override
        RelayProcess.Role role() {
            return RelayProcess.Role.BOUNCE;
        }

        @Override
        List<OptionGroup> groups() {
            return List.of(kafka);
        }
    }
}
