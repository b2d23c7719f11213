package net.mailrelay.deploy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import net.mailrelay.protocol.record.KafkaAccess;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class KafkaSecurityTest {

    @TempDir
    Path dir;

    KafkaAccess access(Map<String, String> keys) {
        Map<String, String> m = new HashMap<>(keys);
        m.put("kafka.bootstrap-servers", "kafka-0.test:9093");
        Settings s = Settings.of(m);
        return KafkaSecurity.access(s, s.get(Keys.BOOTSTRAP_SERVERS));
    }

    Path file(String name, String content) throws Exception {
        return Files.writeString(dir.resolve(name), content);
    }

    @Test
    void plaintextByDefault() {
        assertThat(access(Map.of()).config()).containsEntry("security.protocol", "PLAINTEXT")
                .containsEntry("bootstrap.servers", "kafka-0.test:9093").hasSize(2);
    }

    @Test
    void scramOverTlsTakesItsPasswordFromTheFileAndNeverShowsIt() throws Exception {
        Path password = file("password", "p\"a\\ss\r\nsecond line ignored\n");
        KafkaAccess a = access(Map.of("kafka.security-protocol", "SASL_SSL", "kafka.sasl.mechanism", "SCRAM-SHA-512",
                "kafka.sasl.username", "relay", "kafka.sasl.password-file", password.toString()));
        assertThat(a.config()).containsEntry("sasl.mechanism", "SCRAM-SHA-512")
                .containsEntry("sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"relay\" password=\"p\\\"a\\\\ss\";")
                .containsEntry("ssl.endpoint.identification.algorithm", "https");
        assertThat(a.toString()).isEqualTo("kafka-0.test:9093 (SASL_SSL)").doesNotContain("p\"a");
        // Kafka itself takes the result: the types and names are its own.
        assertThat(new ProducerConfig(a.config(Map.of("key.serializer", "org.apache.kafka.common.serialization.StringSerializer",
                "value.serializer", "org.apache.kafka.common.serialization.StringSerializer"))).getString("security.protocol"))
                .isEqualTo("SASL_SSL");
    }

    @Test
    void saslNeedsItsMechanismUserAndPasswordFile() throws Exception {
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SASL_SSL")))
                .hasMessageContaining("kafka.sasl.mechanism").hasMessageContaining("required");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SASL_SSL", "kafka.sasl.mechanism", "PLAIN",
                "kafka.sasl.username", "relay"))).hasMessageContaining("kafka.sasl.password-file");
        Path missing = dir.resolve("no-such-file");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SASL_SSL", "kafka.sasl.mechanism", "PLAIN",
                "kafka.sasl.username", "relay", "kafka.sasl.password-file", missing.toString())))
                .hasMessageContaining("kafka.sasl.password-file").hasMessageContaining(missing.toString())
                .hasMessageContaining("cannot be read");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SASL_SSL", "kafka.sasl.mechanism", "GSSAPI")))
                .hasMessageContaining("kafka.sasl.mechanism");
    }

    @Test
    void settingsForAProtocolNotInUseAreRefused() throws Exception {
        Path ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> access(Map.of("kafka.ssl.ca-file", ca.toString())))
                .hasMessageContaining("kafka.ssl.ca-file").hasMessageContaining("PLAINTEXT");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SSL", "kafka.sasl.username", "relay")))
                .hasMessageContaining("kafka.sasl.username").hasMessageContaining("does not use SASL");
    }

    @Test
    void mutualTlsTakesPemFilesAndRefusesAKeyItCannotUse() throws Exception {
        Path ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
        Path cert = file("cert.pem", "-----BEGIN CERTIFICATE-----\nAB==\n-----END CERTIFICATE-----\n");
        Path key = file("key.pem", "-----BEGIN PRIVATE KEY-----\nAC==\n-----END PRIVATE KEY-----\n");
        KafkaAccess a = access(Map.of("kafka.security-protocol", "SSL", "kafka.ssl.ca-file", ca.toString(),
                "kafka.ssl.cert-file", cert.toString(), "kafka.ssl.key-file", key.toString(),
                "kafka.ssl.endpoint-identification", "false"));
        assertThat(a.config()).containsEntry("ssl.truststore.type", "PEM").containsEntry("ssl.keystore.type", "PEM")
                .containsEntry("ssl.keystore.key", Files.readString(key)).containsEntry("ssl.endpoint.identification.algorithm", "");
        assertThat(a.toString()).doesNotContain("PRIVATE");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SSL", "kafka.ssl.cert-file", cert.toString())))
                .hasMessageContaining("kafka.ssl.key-file");
        Path encrypted = file("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAD==\n-----END ENCRYPTED PRIVATE KEY-----\n");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SSL", "kafka.ssl.cert-file", cert.toString(),
                "kafka.ssl.key-file", encrypted.toString()))).hasMessageContaining("encrypted").hasMessageContaining("-nocrypt");
        Path pkcs1 = file("rsa.pem", "-----BEGIN RSA PRIVATE KEY-----\nAE==\n-----END RSA PRIVATE KEY-----\n");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SSL", "kafka.ssl.cert-file", cert.toString(),
                "kafka.ssl.key-file", pkcs1.toString()))).hasMessageContaining("not PKCS#8");
        assertThatThrownBy(() -> access(Map.of("kafka.security-protocol", "SSL", "kafka.ssl.ca-file", key.toString())))
                .hasMessageContaining("kafka.ssl.ca-file").hasMessageContaining("holds no PEM certificate");
    }

    @Test
    void oauthBearerUsesTheClientCredentialsLogin() throws Exception {
        Path secret = file("secret", "s3cret\n");
        System.clearProperty(KafkaSecurity.OAUTH_ALLOWED_URLS);
        KafkaAccess a = access(Map.of("kafka.security-protocol", "SASL_SSL", "kafka.sasl.mechanism", "OAUTHBEARER",
                "kafka.sasl.username", "relay-client", "kafka.sasl.password-file", secret.toString(),
                "kafka.client.sasl.oauthbearer.token.endpoint.url", "https://login.test/oauth2/token"));
        assertThat(a.config()).containsEntry("sasl.login.callback.handler.class",
                        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler")
                .containsEntry("sasl.oauthbearer.token.endpoint.url", "https://login.test/oauth2/token");
        assertThat((String) a.config().get("sasl.jaas.config")).contains("clientId=\"relay-client\"").contains("clientSecret=\"s3cret\"");
        assertThat(System.getProperty(KafkaSecurity.OAUTH_ALLOWED_URLS)).isEqualTo("https://login.test/oauth2/token");
        System.clearProperty(KafkaSecurity.OAUTH_ALLOWED_URLS);
    }

    @Test
    void aPassThroughPropertyReachesEveryClientAndOutranksTheRelaysChoice() {
        KafkaAccess a = access(Map.of("kafka.client.linger.ms", "20", "kafka.client.client.dns.lookup", "use_all_dns_ips"));
        assertThat(a.config(Map.of("linger.ms", 0, "acks", "all"))).containsEntry("linger.ms", "20")
                .containsEntry("client.dns.lookup", "use_all_dns_ips").containsEntry("acks", "all");
        Settings fromEnvironment = Settings.resolve(Map.of(), null, Map.of("MAILRELAY_KAFKA_CLIENT_RECONNECT_BACKOFF_MS", "250",
                "MAILRELAY_KAFKA_BOOTSTRAP_SERVERS", "k:9092"), Map.of());
        assertThat(KafkaSecurity.access(fromEnvironment, "k:9092").config()).containsEntry("reconnect.backoff.ms", "250");
    }

    @ParameterizedTest
    @ValueSource(strings = {ProducerConfig.ACKS_CONFIG, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
            ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "group.id", "bootstrap.servers"})
    void aPassThroughOfWhatTheGuaranteesRestOnIsRefusedByName(String property) {
        assertThatThrownBy(() -> access(Map.of("kafka.client." + property, "1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("kafka.client." + property)
                .hasMessageContaining("cannot be changed");
    }

    /** Issue 29: each was passed through before, and each breaks a guarantee; the refusal says which. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "auto.offset.reset|latest|latest would skip accepted mail",
            "delivery.timeout.ms|600000|the edge answers 451",
            "max.block.ms|600000|the edge's 451 rule",
            "max.request.size|1000|message.max-size",
            "request.timeout.ms|600000|the edge's 451 rule",
            "max.in.flight.requests.per.connection|10|reorder or duplicate",
            "retries|0|0 would fail sends",
            "max.poll.interval.ms|1000|slowest delivery",
            "interceptor.classes|com.example.Drop|change or drop records",
            "transaction.timeout.ms|1000|timed by the relay",
            "allow.auto.create.topics|true|created by the relay"})
    void aPassThroughThatBreaksADeliveryGuaranteeIsRefusedWithWhy(String property, String value, String why) {
        assertThatThrownBy(() -> access(Map.of("kafka.client." + property, value)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("kafka.client." + property)
                .hasMessageContaining("cannot be changed").hasMessageContaining(why);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sasl.jaas.config", "security.protocol", "ssl.key.password", "ssl.keystore.key"})
    void aPassThroughOfWhatHasAKeyOfItsOwnIsRefused(String property) {
        assertThatThrownBy(() -> access(Map.of("kafka.client." + property, "x")))
                .hasMessageContaining("kafka.client." + property).hasMessageContaining("use kafka.");
    }
}
