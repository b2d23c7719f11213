package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import net.mailrelay.deploy.broker.SecuredBroker;
import net.mailrelay.deploy.broker.TestCa;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.Ports;
import net.mailrelay.testing.SmtpTranscript;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * The relay against a secured Kafka, as production runs it (MSK, Confluent Cloud, Strimzi): a real
 * broker with a SASL_SSL listener (SCRAM-SHA-512) and an mTLS listener, certificates made here. The
 * whole path works over each; a wrong password, an untrusted broker certificate and an expired client
 * certificate each stop the start with an error that names the setting, while readiness stays false
 * and the edge answers every client 421 4.3.2.
 */
class SecuredKafkaTest {

    static final String USER = "relay";
    static final String PASSWORD = "sc\"ram-pa\\ss";
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.secured.test");
    static final ClusterFiles SECRET = ClusterFiles.make();
    @TempDir
    static Path dir;
    static TestCa ca;
    static SecuredBroker broker;

    @BeforeAll
    static void start() throws Exception {
        ca = new TestCa("relay-test", dir.resolve("pki"));
        broker = SecuredBroker.start(dir.resolve("broker"), ca, USER, PASSWORD);
        Files.writeString(dir.resolve("password"), PASSWORD + "\n");
        Files.writeString(dir.resolve("wrong-password"), "not-" + PASSWORD + "\n");
    }

    @AfterAll
    static void stop() {
        if (broker != null) {
            broker.close();
        }
    }

    static Map<String, String> sasl(String passwordFile) {
        return Map.of("kafka.bootstrap-servers", broker.saslSslServers(), "kafka.security-protocol", "SASL_SSL",
                "kafka.sasl.mechanism", "SCRAM-SHA-512", "kafka.sasl.username", USER,
                "kafka.sasl.password-file", dir.resolve(passwordFile).toString(), "kafka.ssl.ca-file", ca.caFile().toString());
    }

    static Map<String, String> mtls(TestCa.Issued client) {
        return Map.of("kafka.bootstrap-servers", broker.mtlsServers(), "kafka.security-protocol", "SSL",
                "kafka.ssl.ca-file", ca.caFile().toString(), "kafka.ssl.cert-file", client.certFile().toString(),
                "kafka.ssl.key-file", client.keyFile().toString());
    }

    /** What every process of one relay shares besides its Kafka access. */
    static Map<String, String> relay(String name, Map<String, String> access) {
        Map<String, String> m = new HashMap<>(access);
        m.putAll(Map.of("kafka.topic-prefix", name + UUID.randomUUID().toString().substring(0, 6) + ".",
                "kafka.partitions", "2", "kafka.replication-factor", "1", "kafka.min-insync-replicas", "1",
                "hostname", "relay.test", "http.port", "0", "hazelcast.cluster-name", name + "-" + UUID.randomUUID(),
                "hazelcast.secret-file", SECRET.secretFile().toString(),
                "route", "*=" + MX.hostPort(), "delivery.tls", "none"));
        m.putAll(Map.of("smtp.bind-address", "127.0.0.1", "smtp.port", Integer.toString(Ports.free()), "smtp.tls", "none",
                "submission.port", "0", "smtps.port", "0"));
        return m;
    }

    static void theWholePathWorks(Map<String, String> access) throws Exception {
        Map<String, String> common = relay("sec", access);
        int workerHz = Ports.free();
        int edgeHz = Ports.free();
        common.put("hazelcast.members", "127.0.0.1:" + workerHz + ",127.0.0.1:" + edgeHz);
        Map<String, String> w = new HashMap<>(common);
        w.put("hazelcast.port", Integer.toString(workerHz));
        Map<String, String> e = new HashMap<>(common);
        e.remove("hazelcast.secret-file");
        e.put("hazelcast.port", Integer.toString(edgeHz));
        try (RelayProcess worker = RelayProcess.start(RelayProcess.Role.WORKER, Settings.of(w));
                RelayProcess edge = RelayProcess.start(RelayProcess.Role.EDGE, Settings.of(e))) {
            String recipient = "bob-" + UUID.randomUUID().toString().substring(0, 8) + "@far.test";
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> greeting(edge).startsWith("220"));
            try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", edge.smtpAddress().getPort())) {
                c.expect("220");
                c.send("EHLO client.test");
                c.expect("250 ");
                assertThat(c.sendMessage("alice@near.test", List.of(recipient), "Subject: secured\r\n\r\nover TLS\r\n"))
                        .startsWith("250 2.0.0 Ok: queued as ");
            }
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !MX.deliveriesTo(recipient).isEmpty());
            assertThat(MX.deliveriesTo(recipient).get(0).text()).contains("over TLS");
        }
    }

    @Test
    void theWholePathWorksOverSaslSslWithScram() throws Exception {
        theWholePathWorks(sasl("password"));
    }

    @Test
    void theWholePathWorksOverMutualTls() throws Exception {
        theWholePathWorks(mtls(ca.issue("relay-client")));
    }

    static Stream<Arguments> refusals() throws Exception {
        TestCa other = new TestCa("someone-else", dir.resolve("other-pki"));
        Map<String, String> untrusted = new HashMap<>(sasl("password"));
        untrusted.put("kafka.ssl.ca-file", other.caFile().toString());
        Instant now = Instant.now();
        TestCa.Issued expired = ca.issue("expired-client", now.minus(Duration.ofDays(10)), now.minus(Duration.ofDays(1)));
        return Stream.of(
                Arguments.of("a wrong password", sasl("wrong-password"), "SASL authentication failed"),
                Arguments.of("an untrusted broker certificate", untrusted, "not signed by a trusted CA"),
                Arguments.of("an expired client certificate", mtls(expired), "kafka.ssl.cert-file " + expired.certFile() + " expired at"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void aRefusalIsNamedAtStartAndTheEdgeTakesNothing(String what, Map<String, String> access, String named) throws Exception {
        Map<String, String> e = relay("bad", access);
        e.remove("hazelcast.secret-file");
        int http = Ports.free();
        e.put("http.port", Integer.toString(http));
        e.put("http.bind-address", "127.0.0.1");
        int smtp = Integer.parseInt(e.get("smtp.port"));
        Logger log = (Logger) LoggerFactory.getLogger(RelayProcess.class);
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.start();
        log.addAppender(seen);
        AtomicReference<Throwable> ended = new AtomicReference<>();
        Thread starter = new Thread(() -> {
            try {
                RelayProcess.start(RelayProcess.Role.EDGE, Settings.of(e)).close();
            } catch (Throwable t) {
                ended.set(t);
            }
        }, "edge-start");
        starter.start();
        try {
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> seen.list.stream()
                    .anyMatch(ev -> ev.getLevel() == Level.ERROR && ev.getFormattedMessage().contains("refused this relay")));
            String error = seen.list.stream().filter(ev -> ev.getLevel() == Level.ERROR).findFirst().orElseThrow()
                    .getFormattedMessage();
            assertThat(error).as(what).contains(named).doesNotContain(PASSWORD).doesNotContain("PRIVATE KEY");
            Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
                    .until(() -> greeting(smtp).startsWith("421 4.3.2"));
            HttpResponse<String> ready = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/health/ready"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).contains("kafka");
            assertThat(starter.isAlive()).as("the start waits for Kafka to let it in").isTrue();
        } finally {
            log.detachAppender(seen);
            starter.interrupt();
            starter.join(30_000);
        }
        assertThat(starter.isAlive()).isFalse();
        assertThat(ended.get()).isInstanceOf(InterruptedException.class);
    }

    static String greeting(RelayProcess edge) {
        return greeting(edge.smtpAddress().getPort());
    }

    static String greeting(int port) {
        try (SmtpTranscript c = SmtpTranscript.connect("127.0.0.1", port)) {
            return String.join("\n", c.readReply());
        }
    }
}
