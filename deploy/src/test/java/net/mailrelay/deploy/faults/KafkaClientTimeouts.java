package net.mailrelay.deploy.faults;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The timeouts of every Kafka producer, consumer and admin client in the relay's processes, as each logged its
 * configuration when it was created ({@code relay-logback.xml} turns that on). {@code kafka-freeze}
 * holds the brokers still for longer than the longest of them, so that every client gives up at least
 * once: the edge's publish, the worker's outcome writes, the bounce service's DSNs, and every consumer's
 * session, which the group coordinator expires the moment it runs again, and the readiness checks.
 *
 * <p>Read from the processes rather than copied from the code, because the clients' settings change
 * (issue 15 bounds the edge's blocking and the worker's outcome writes) and a freeze shorter than one of
 * them would pass without testing what it is for.
 */
final class KafkaClientTimeouts {

    /** What a client waits for before it gives up on a broker; max.poll.interval.ms is the application's own pace. */
    static final List<String> SETTINGS = List.of("request.timeout.ms", "delivery.timeout.ms", "max.block.ms",
            "session.timeout.ms", "default.api.timeout.ms");

    private static final Pattern BLOCK = Pattern.compile("(ProducerConfig|ConsumerConfig|AdminClientConfig) values:");
    private static final Pattern ENTRY = Pattern.compile("^\\t(\\S+) = (.*)$");

    /** One timeout of one client of one process. */
    record Timeout(String member, String client, String setting, Duration value) {
        @Override
        public String toString() {
            return member + " " + client.trim() + ": " + setting + " = " + value.toMillis() + " ms";
        }
    }

    private KafkaClientTimeouts() {
    }

    /** Every timeout of {@link #SETTINGS} that the clients in one process's log were created with. */
    static List<Timeout> read(String member, String log) {
        List<Timeout> out = new ArrayList<>();
        String kind = null;
        String client = "";
        List<String[]> entries = new ArrayList<>();
        for (String line : (log + "\nend").split("\n")) {
            Matcher entry = ENTRY.matcher(line);
            if (kind != null && entry.matches()) {
                if (entry.group(1).equals("client.id")) {
                    client = entry.group(2).trim();
                }
                if (SETTINGS.contains(entry.group(1))) {
                    entries.add(new String[] {entry.group(1), entry.group(2).trim()});
                }
                continue;
            }
            if (kind != null) {
                String name = kind.replace("ClientConfig", "").replace("Config", "").toLowerCase(Locale.ROOT) + " " + client;
                entries.forEach(e -> out.add(new Timeout(member, name, e[0], Duration.ofMillis(Long.parseLong(e[1])))));
                kind = null;
                client = "";
                entries.clear();
            }
            Matcher block = BLOCK.matcher(line);
            if (block.find()) {
                kind = block.group(1);
            }
        }
        return out;
    }

    /**
     * The longest timeout over the given processes' logs, leaving out the ones a client never reaches
     * (the worker's and the bounce service's producers wait for a broker however long it takes:
     * {@code delivery.timeout.ms} is {@code Integer.MAX_VALUE}); fails if no client logged its configuration.
     */
    static Timeout longest(RelayCluster cluster, List<String> members) {
        List<Timeout> all = new ArrayList<>();
        members.forEach(m -> all.addAll(read(m, cluster.log(m))));
        return all.stream().filter(t -> t.value().toMillis() < Integer.MAX_VALUE).max(Comparator.comparing(Timeout::value))
                .orElseThrow(() -> new IllegalStateException(
                        "no Kafka client configuration in the logs of " + members + ": is relay-logback.xml in use?"));
    }
}
