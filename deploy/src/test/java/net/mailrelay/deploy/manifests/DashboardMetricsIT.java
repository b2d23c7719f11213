package net.mailrelay.deploy.manifests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import net.mailrelay.deploy.RelayProcess;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.deploy.tls.SelfSignedCertificate;
import net.mailrelay.edge.auth.UsersFile;
import net.mailrelay.protocol.dkim.KeyGeneration;
import net.mailrelay.testing.DnsResponder;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboards show what a relay really exports. An edge, a worker and a bounce service (each wired by
 * {@link RelayProcess} as its own process would be) run on a real broker and carry real traffic: a
 * delivered message, one deferred once then delivered, one refused with 550 that comes back as a DSN,
 * two to a rate-limited destination, a rejected command and a failed AUTH. Then every metric name any
 * dashboard query reads must be among the series the three /metrics endpoints serve. A {@code _bucket}
 * name must be served as such: a histogram without buckets cannot give the p50 and p99 panels.
 */
@ExtendWith(KafkaFixture.class)
class DashboardMetricsIT {

    @RegisterExtension
    static final DnsResponder DNS = new DnsResponder();
    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.dest.test", ip("127.0.0.2"), 0);
    @TempDir
    static Path files;
    static FakeMx sender;
    static final Map<String, RelayProcess> PROCESSES = new LinkedHashMap<>();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        sender = (FakeMx) new FakeMx("mx.sender.test", ip("127.0.0.4"), MX.port()).start();
        DNS.mx("dest.test", 10, "mx.dest.test").address("mx.dest.test", "127.0.0.2")
                .mx("limited.test", 10, "mx.dest.test")
                .mx("sender.test", 10, "mx.sender.test").address("mx.sender.test", "127.0.0.4");
        Path cert = files.resolve("cert.pem");
        Path key = files.resolve("key.pem");
        SelfSignedCertificate.ensure(cert, key, "relay.test");
        Path users = files.resolve("users");
        UsersFile.add(users, "alice", "the-right-one".toCharArray());
        Map<String, String> common = new HashMap<>(Map.of(
                "kafka.bootstrap-servers", kafka.bootstrapServers(),
                "kafka.topic-prefix", "dash" + UUID.randomUUID().toString().substring(0, 6) + ".",
                "kafka.partitions", "3", "kafka.replication-factor", "1", "kafka.min-insync-replicas", "1",
                "hostname", "relay.test", "hazelcast.port", "5901", "http.bind-address", "127.0.0.1"));
        common.putAll(Map.of("queue.retry-tiers", "1s", "queue.min-backoff", "1s", "queue.max-backoff", "1s",
                "dns.server", DNS.hostPort(), "delivery.mx-port", Integer.toString(MX.port()),
                "route.rate", "limited.test=1", "smtp.bind-address", "127.0.0.1", "smtp.port", Integer.toString(Ports.free())));
        common.putAll(Map.of("smtp.tls", "starttls", "smtp.auth", "offered", "submission.port", "0", "smtps.port", "0",
                "tls.cert-file", cert.toString(), "tls.key-file", key.toString(), "auth.users-file", users.toString()));
        ClusterFiles cluster = ClusterFiles.in(files.resolve("cluster"));
        // The DKIM meters are served once a key is there (docs/metrics.md).
        KeyGeneration.generate(files.resolve("dkim"), "sender.test", "d1", "ed25519", 0);
        common.put("dkim.key-dir", files.resolve("dkim").toString());
        for (RelayProcess.Role role : List.of(RelayProcess.Role.BOUNCE, RelayProcess.Role.WORKER, RelayProcess.Role.EDGE)) {
            Map<String, String> settings = new HashMap<>(common);
            settings.putAll(role == RelayProcess.Role.WORKER ? cluster.worker() : role == RelayProcess.Role.EDGE ? cluster.edge() : Map.of());
            settings.put("http.port", Integer.toString(Ports.free()));
            PROCESSES.put(role.name().toLowerCase(java.util.Locale.ROOT), RelayProcess.start(role, Settings.of(settings)));
        }
        produceTraffic();
        // jvm_gc_pause_seconds appears with the first collection; make sure there has been one.
        System.gc();
    }

    @AfterAll
    static void stop() {
        List<AutoCloseable> all = new ArrayList<>(PROCESSES.values());
        java.util.Collections.reverse(all);
        all.add(sender);
        for (AutoCloseable c : all) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    @Test
    void everyMetricTheDashboardsReadIsServed() {
        Set<String> wanted = Dashboards.metricNames();
        assertThat(wanted).isNotEmpty();
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
            Set<String> served = servedSeries().keySet();
            Map<String, String> missing = new TreeMap<>();
            for (String name : wanted) {
                if (!served.contains(name)) {
                    missing.put(name, hint(name, served));
                }
            }
            assertThat(missing).as("metrics the dashboards read that no /metrics of edge, worker or bounce serves").isEmpty();
        });
    }

    /**
     * A query that groups or filters by a label the series do not have shows nothing, or one line for
     * everything. instance and job are not checked: Prometheus adds them to every series it scrapes.
     */
    @Test
    void everyLabelADashboardQueryUsesIsOnOneOfItsMetrics() {
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
            Map<String, Set<String>> served = servedSeries();
            Set<String> problems = new TreeSet<>();
            for (Path f : Dashboards.files()) {
                for (Dashboards.Query q : Dashboards.queries(f, Dashboards.read(f))) {
                    Set<String> metrics = PromQl.metricNames(q.expr());
                    for (String label : PromQl.labelNames(q.expr())) {
                        if (!label.equals("instance") && !label.equals("job")
                                && metrics.stream().noneMatch(m -> served.getOrDefault(m, Set.of()).contains(label))) {
                            problems.add(q.where() + ": no series of " + metrics + " has the label " + label);
                        }
                    }
                }
            }
            assertThat(problems).as("labels the dashboards use that the served series lack").isEmpty();
        });
    }

    @Test
    void theProbePathsOfTheManifestsAnswer() throws Exception {
        for (Map.Entry<String, RelayProcess> p : PROCESSES.entrySet()) {
            for (String path : List.of("/health/live", "/health/ready", "/metrics")) {
                Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(get(p.getValue(), path).statusCode()).as("%s %s", p.getKey(), path).isEqualTo(200));
            }
        }
    }

    private static void produceTraffic() {
        send("alice@sender.test", "ok-dash@dest.test");
        send("alice@sender.test", "flaky-dash@dest.test");
        String refused = send("alice@sender.test", "permfail-dash@dest.test");
        send("alice@sender.test", "first@limited.test");
        send("alice@sender.test", "second@limited.test");
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", PROCESSES.get("edge").smtpAddress().getPort())) {
            c.expect("220");
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("XYZZY");
            c.expect("5");
            c.send("STARTTLS");
            c.expect("220");
            c.startTls(SmtpTranscript.trustingTls());
            c.send("EHLO client.test");
            c.expect("250 ");
            c.send("AUTH PLAIN " + Base64.getEncoder().encodeToString("\0alice\0the-wrong-one".getBytes(StandardCharsets.UTF_8)));
            c.expect("535");
            c.send("QUIT");
            c.expect("221");
        }
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> !MX.deliveriesTo("ok-dash@dest.test").isEmpty()
                && !MX.deliveriesTo("flaky-dash@dest.test").isEmpty() && !MX.deliveriesTo("first@limited.test").isEmpty()
                && sender.deliveriesTo("alice@sender.test").stream().anyMatch(d -> d.mailFrom().isEmpty() && d.text().contains(refused)));
    }

    /** Sends one message over plaintext SMTP; returns its queue id. */
    private static String send(String from, String to) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", PROCESSES.get("edge").smtpAddress().getPort())) {
            c.expect("220");
            c.send("EHLO client.test");
            c.expect("250 ");
            String reply = c.sendMessage(from, List.of(to), "Subject: dashboards\r\n\r\nfor the metrics\r\n");
            assertThat(reply).startsWith("250 2.0.0 Ok: queued as ");
            c.send("QUIT");
            c.expect("221");
            return reply.substring("250 2.0.0 Ok: queued as ".length());
        }
    }

    /** The series the three processes serve now: each name with the label names its samples carry. */
    private static Map<String, Set<String>> servedSeries() throws IOException, InterruptedException {
        Map<String, Set<String>> series = new TreeMap<>();
        for (RelayProcess p : PROCESSES.values()) {
            HttpResponse<String> r = get(p, "/metrics");
            assertThat(r.statusCode()).isEqualTo(200);
            for (String line : r.body().split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                int end = 0;
                while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
                    end++;
                }
                Set<String> labels = series.computeIfAbsent(line.substring(0, end), k -> new TreeSet<>());
                if (end < line.length() && line.charAt(end) == '{') {
                    labels.addAll(labelNames(line, end + 1));
                }
            }
        }
        return series;
    }

    /** The label names of one sample line, name{a="x",b="y"} 1, from just after its brace; values may hold \" and \\. */
    private static List<String> labelNames(String line, int from) {
        List<String> names = new ArrayList<>();
        int i = from;
        while (i < line.length() && line.charAt(i) != '}') {
            int eq = line.indexOf('=', i);
            names.add(line.substring(i, eq).strip());
            i = eq + 2; // past ="
            while (line.charAt(i) != '"') {
                i += line.charAt(i) == '\\' ? 2 : 1;
            }
            i++; // past the closing quote
            if (line.charAt(i) == ',') {
                i++;
            }
        }
        return names;
    }

    /** What the scrape has instead of a missing name, to make the failure say what to fix. */
    private static String hint(String name, Set<String> served) {
        for (String suffix : List.of("_bucket", "_count", "_sum")) {
            if (name.endsWith(suffix)) {
                String base = name.substring(0, name.length() - suffix.length());
                if (served.contains(base + "_count")) {
                    return "served as a summary or timer without buckets (" + base + "_count is there): publish a percentile histogram";
                }
            }
        }
        return "not served at all";
    }

    private static HttpResponse<String> get(RelayProcess p, String path) throws IOException, InterruptedException {
        URI uri = URI.create("http://127.0.0.1:" + p.httpAddress().getPort() + path);
        return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
