package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.StreamSupport;
import net.mailrelay.deploy.cluster.ClusterFiles;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.testing.FakeMx;
import net.mailrelay.testing.KafkaBroker;
import net.mailrelay.testing.KafkaFixture;
import net.mailrelay.testing.Ports;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Queue administration as an operator does it: a worker and a bounce service started as the jar starts
 * them, mail produced to {@code mail.outbound}, and every {@code /admin/queue} endpoint and every
 * {@code queue} subcommand used against them over real sockets: the summary shows deferred mail by
 * destination, show gives each recipient's outcome, a hold stops attempts and a release delivers, a
 * failed message comes back to its sender as a DSN, a deleted one just goes.
 */
@ExtendWith(KafkaFixture.class)
class QueueAdministrationTest {

    @RegisterExtension
    static final FakeMx MX = new FakeMx("mx.queue-admin.test");
    static final String TOKEN = "queue-admin-token";
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();
    static Topics topics;
    static RelayProcess worker;
    static RelayProcess bounce;
    static KafkaProducer<String, byte[]> producer;

    @BeforeAll
    static void start(KafkaBroker kafka) throws Exception {
        String prefix = "qadm" + UUID.randomUUID().toString().substring(0, 6) + ".";
        topics = new Topics(prefix);
        int hz = Ports.free();
        String routes = String.join(",", List.of("slow.test", "held.test", "fail.test", "delete.test", "origin.test").stream()
                .map(d -> d + "=" + MX.hostPort()).toList());
        Map<String, String> common = new HashMap<>(Map.of("kafka.bootstrap-servers", kafka.bootstrapServers(),
                "kafka.topic-prefix", prefix, "kafka.partitions", "2", "kafka.replication-factor", "1",
                "kafka.min-insync-replicas", "1", "hostname", "relay.test", "http.port", "0"));
        Map<String, String> w = new HashMap<>(common);
        // Deferred mail waits 20 minutes, on the 10m tier; held mail on the same (longest) tier.
        w.putAll(Map.of("queue.retry-tiers", "1m,10m", "queue.min-backoff", "20m", "queue.max-backoff", "20m",
                "route", routes, "delivery.tls", "none", "dsn.delay-warning", "0s", "admin.token", TOKEN,
                "http.port", Integer.toString(Ports.free()), "http.bind-address", "127.0.0.1"));
        w.putAll(Map.of("hazelcast.port", Integer.toString(hz), "hazelcast.members", "127.0.0.1:" + hz));
        w.putAll(ClusterFiles.make().worker());
        worker = RelayProcess.start(RelayProcess.Role.WORKER, Settings.of(w));
        bounce = RelayProcess.start(RelayProcess.Role.BOUNCE, Settings.of(common));
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer());
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {producer, worker, bounce}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    static String url() {
        return "http://127.0.0.1:" + worker.httpAddress().getPort();
    }

    static QueueId enqueue(String sender, String... rcpts) throws Exception {
        QueueId id = QueueId.next(System.currentTimeMillis());
        Envelope env = new Envelope(id, sender, Arrays.stream(rcpts).map(Recipient::of).toList(), BodyType.SEVEN_BIT, false,
                null, null, "127.0.0.1", "client.test", null, System.currentTimeMillis(), 0, 0, null);
        byte[] message = ("Subject: " + id + "\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        producer.send(new ProducerRecord<>(topics.outbound(), id.value(), RecordCodec.encode(env, message, 0, message.length)))
                .get();
        return id;
    }

    static HttpResponse<String> api(String method, String pathAndQuery, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url() + "/admin/queue/" + pathAndQuery))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode ok(String method, String pathAndQuery) throws Exception {
        HttpResponse<String> r = api(method, pathAndQuery, TOKEN);
        assertThat(r.statusCode()).as("%s %s: %s", method, pathAndQuery, r.body()).isBetween(200, 299);
        return JSON.readTree(r.body());
    }

    record Cli(int exit, String out, String err) {
    }

    /** The jar's own command line with exactly these arguments. */
    static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = MailRelay.commandLine().setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
        return new Cli(exit, out.toString(), err.toString());
    }

    /** {@code mail-relay.jar queue ARGS --url ... --token ...}, as an operator types it. */
    static Cli cli(String... args) {
        List<String> full = new java.util.ArrayList<>(List.of("queue"));
        full.addAll(List.of(args));
        full.addAll(List.of("--url", url(), "--token", TOKEN));
        return run(full.toArray(String[]::new));
    }

    static Cli cliOk(String... args) {
        Cli c = cli(args);
        assertThat(c.exit()).as("exit status of queue %s; stderr: %s", String.join(" ", args), c.err()).isZero();
        return c;
    }

    static ConditionFactory await() {
        return Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300));
    }

    /** The latest outcome of one recipient, from GET message. */
    static String outcome(QueueId id, String rcpt) throws Exception {
        HttpResponse<String> r = api("GET", "message?id=" + id, TOKEN);
        if (r.statusCode() != 200) {
            return "HTTP " + r.statusCode();
        }
        return StreamSupport.stream(JSON.readTree(r.body()).path("recipients").spliterator(), false)
                .filter(n -> n.path("recipient").asText().equals(rcpt)).map(n -> n.path("outcome").asText())
                .findFirst().orElse("none");
    }

    static JsonNode topic(JsonNode summary, String name) {
        return StreamSupport.stream(summary.path("topics").spliterator(), false)
                .filter(t -> t.path("topic").asText().equals(name)).findFirst().orElseThrow();
    }

    static long waiting(JsonNode topic, String destination) {
        return StreamSupport.stream(topic.path("destinations").spliterator(), false)
                .filter(d -> d.path("destination").asText().equals(destination)).mapToLong(d -> d.path("recipients").asLong())
                .sum();
    }

    @Test
    void theApiWantsItsTokenAndSaysWhatIsWrongWithARequest() throws Exception {
        assertThat(api("GET", "summary", null).statusCode()).isEqualTo(401);
        assertThat(api("GET", "holds", "wrong").statusCode()).isEqualTo(401);
        assertThat(api("POST", "hold", TOKEN).statusCode()).isEqualTo(400);
        assertThat(api("POST", "hold?destination=someone%40example.net", TOKEN).body()).contains("recipient domain");
        assertThat(api("POST", "retry?destination=", TOKEN).body()).contains("destination is required");
        assertThat(api("GET", "message", TOKEN).statusCode()).isEqualTo(400);
        assertThat(api("GET", "message?id=not-an-id", TOKEN).body()).contains("20 letters and digits");
        assertThat(api("POST", "fail?id=0123", TOKEN).statusCode()).isEqualTo(400);
        assertThat(api("GET", "summary?limit=0", TOKEN).statusCode()).isEqualTo(400);
        assertThat(api("GET", "hold?destination=x.test", TOKEN).statusCode()).isEqualTo(405);
        assertThat(api("POST", "summary", TOKEN).statusCode()).isEqualTo(405);

        String unknown = QueueId.next(System.currentTimeMillis() - 60_000).value();
        assertThat(api("GET", "message?id=" + unknown, TOKEN).statusCode()).isEqualTo(404);
        assertThat(api("POST", "delete?id=" + unknown, TOKEN).body()).contains("no such message");
        assertThat(api("POST", "release?destination=never-held.test", TOKEN).statusCode()).isEqualTo(404);
        assertThat(ok("POST", "retry?destination=*").path("retryRequested").asText()).isEqualTo("*");

        Cli missing = cli("show", unknown);
        assertThat(missing.exit()).isNotZero();
        assertThat(missing.err()).contains("HTTP 404").contains("no such message");
        Cli badToken = run("queue", "holds", "--url", url(), "--token", "wrong");
        assertThat(badToken.exit()).isNotZero();
        assertThat(badToken.err()).contains("HTTP 401");
    }

    @Test
    void summaryAndShowDescribeDeferredMailAndRetryDeliversIt() throws Exception {
        MX.replyToRecipient("a@slow.test", "451 4.3.0 try again later", "250 2.1.5 Ok");
        MX.replyToRecipient("b@slow.test", "451 4.3.0 try again later", "250 2.1.5 Ok");
        MX.replyToRecipient("c@slow.test", "451 4.3.0 try again later", "250 2.1.5 Ok");
        QueueId two = enqueue("sender@origin.test", "a@slow.test", "b@slow.test");
        QueueId one = enqueue("sender@origin.test", "c@slow.test");
        await().until(() -> outcome(two, "b@slow.test").equals("DEFERRED") && outcome(one, "c@slow.test").equals("DEFERRED"));

        JsonNode summary = ok("GET", "summary");
        JsonNode tier = topic(summary, topics.retryTier(Duration.ofMinutes(10)));
        assertThat(tier.path("lag").asLong()).isGreaterThanOrEqualTo(2);
        assertThat(tier.path("group").asText()).isEqualTo(topics.prefix() + "mail-relay-worker");
        assertThat(tier.path("oldestAgeSeconds").isNumber()).isTrue();
        assertThat(waiting(tier, "slow.test")).isEqualTo(3);
        assertThat(topic(summary, topics.bounce()).path("group").asText()).isEqualTo(topics.prefix() + "mail-relay-bounce");
        assertThat(summary.path("truncated").asBoolean()).isFalse();
        String table = cliOk("summary").out();
        assertThat(table).contains(topics.retryTier(Duration.ofMinutes(10))).contains("slow.test").contains("TOTAL");
        assertThat(cliOk("summary", "--limit", "1").out()).contains("cut short after 1 records");

        JsonNode shown = ok("GET", "message?id=" + two);
        assertThat(shown.path("state").asText()).isEqualTo("deferred");
        assertThat(shown.path("sender").asText()).isEqualTo("sender@origin.test");
        assertThat(shown.path("attempts").asInt()).isEqualTo(1);
        assertThat(shown.path("recipients")).hasSize(2).allSatisfy(r -> {
            assertThat(r.path("outcome").asText()).isEqualTo("DEFERRED");
            assertThat(r.path("reply").asText()).contains("451 4.3.0 try again later");
        });
        assertThat(shown.path("remoteHost").asText()).isNotEmpty();
        assertThat(cliOk("show", two.value()).out()).contains(two.value()).contains("sender@origin.test")
                .contains("(host ").contains("a@slow.test  DEFERRED attempt 1");
        assertThat(cliOk("show", two.value(), "--json").out()).contains("\"state\" : \"deferred\"");

        assertThat(cliOk("retry", "slow.test").out()).contains("retrying deferred mail for slow.test now");
        await().until(() -> outcome(two, "a@slow.test").equals("DELIVERED") && outcome(two, "b@slow.test").equals("DELIVERED")
                && outcome(one, "c@slow.test").equals("DELIVERED"));
        assertThat(ok("GET", "message?id=" + two).path("state").asText()).isEqualTo("finished");
        assertThat(MX.deliveriesTo("a@slow.test")).hasSize(1);
    }

    @Test
    void aHoldStopsAttemptsUntilTheReleaseDeliversTheMail() throws Exception {
        assertThat(cliOk("hold", "Held.Test").out()).contains("held.test: on hold since");
        long since = ok("POST", "hold?destination=held.test").path("sinceMillis").asLong();
        assertThat(ok("GET", "holds").path("holds")).singleElement()
                .satisfies(h -> assertThat(h.path("sinceMillis").asLong()).isEqualTo(since));
        assertThat(cliOk("holds").out()).contains("held.test");

        QueueId id = enqueue("sender@origin.test", "x@held.test");
        await().until(() -> outcome(id, "x@held.test").equals("DEFERRED"));
        JsonNode shown = ok("GET", "message?id=" + id);
        assertThat(shown.path("recipients").get(0).path("reply").asText()).contains("on hold");
        assertThat(MX.timesOffered("x@held.test")).isZero();
        // Not attempted, and parked on the longest tier.
        await().until(() -> waiting(topic(ok("GET", "summary"), topics.retryTier(Duration.ofMinutes(10))), "held.test") == 1);

        assertThat(cliOk("release", "held.test").out()).contains("released from hold");
        await().until(() -> outcome(id, "x@held.test").equals("DELIVERED"));
        assertThat(MX.deliveriesTo("x@held.test")).hasSize(1);
        assertThat(cliOk("holds").out()).contains("no destination is on hold");
        Cli again = cli("release", "held.test");
        assertThat(again.exit()).isNotZero();
        assertThat(again.err()).contains("HTTP 404").contains("held.test is not on hold");
    }

    @Test
    void aFailedMessageComesBackToItsSenderAsADsn() throws Exception {
        MX.replyToRecipient("stuck@fail.test", "451 4.3.0 try again later");
        QueueId id = enqueue("returned@origin.test", "stuck@fail.test");
        await().until(() -> outcome(id, "stuck@fail.test").equals("DEFERRED"));

        assertThat(cliOk("fail", id.value()).out()).contains(id.value() + ": failure requested; retrying fail.test now");
        await().until(() -> outcome(id, "stuck@fail.test").equals("FAILED"));
        JsonNode shown = ok("GET", "message?id=" + id);
        assertThat(shown.path("recipients").get(0).path("status").asText()).isEqualTo("5.0.0");
        assertThat(shown.path("lastReply").asText()).isEqualTo("message failed by the administrator");
        await().until(() -> !MX.deliveriesTo("returned@origin.test").isEmpty());
        assertThat(MX.deliveriesTo("returned@origin.test")).singleElement().satisfies(dsn -> {
            assertThat(dsn.mailFrom()).isEmpty();
            assertThat(dsn.text()).contains("message failed by the administrator").contains("Status: 5.0.0");
        });
        assertThat(MX.timesOffered("stuck@fail.test")).isEqualTo(1);
        HttpResponse<String> again = api("POST", "fail?id=" + id, TOKEN);
        assertThat(again.statusCode()).isEqualTo(409);
        assertThat(again.body()).contains("no longer queued");
    }

    @Test
    void aDeletedMessageGoesWithoutANotice() throws Exception {
        MX.replyToRecipient("stuck@delete.test", "451 4.3.0 try again later");
        QueueId id = enqueue("quiet@origin.test", "stuck@delete.test");
        await().until(() -> outcome(id, "stuck@delete.test").equals("DEFERRED"));

        JsonNode ordered = ok("POST", "delete?id=" + id.value().toLowerCase());
        assertThat(ordered.path("order").asText()).isEqualTo("DELETE");
        assertThat(ok("GET", "message?id=" + id).path("pendingOrder").asText()).isEqualTo("DELETE");
        await().until(() -> outcome(id, "stuck@delete.test").equals("DELETED"));
        assertThat(ok("GET", "message?id=" + id).path("state").asText()).isEqualTo("finished");
        Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5))
                .until(() -> MX.deliveriesTo("quiet@origin.test").isEmpty());
        assertThat(MX.timesOffered("stuck@delete.test")).isEqualTo(1);

        MX.replyToRecipient("second@delete.test", "451 4.3.0 try again later");
        QueueId second = enqueue("quiet@origin.test", "second@delete.test");
        await().until(() -> outcome(second, "second@delete.test").equals("DEFERRED"));
        assertThat(cliOk("delete", second.value()).out()).contains("deletion requested");
        await().until(() -> outcome(second, "second@delete.test").equals("DELETED"));
    }
}
