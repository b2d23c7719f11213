package net.mailrelay.deploy.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import net.mailrelay.protocol.record.KafkaAccess;

/**
 * Turns the {@code kafka.*} security keys and the {@code kafka.client.*} pass-through into the client
 * properties every Kafka client of a role uses ({@link KafkaAccess}). The files are read here, once, at
 * start: a missing or unreadable one stops the start with a message naming its key and path, never its
 * content. Certificates and keys are handed to Kafka as PEM text (ssl.keystore.type=PEM), which Kafka
 * treats as passwords: its config log shows them as [hidden].
 */
public final class KafkaSecurity {

    /** Pass-through properties that have a key of their own, or would put a secret in a key. */
    private static final Map<String, String> OWN_KEYS = Map.ofEntries(
            Map.entry("security.protocol", Keys.KAFKA_SECURITY.name()),
            Map.entry("sasl.mechanism", Keys.KAFKA_SASL_MECHANISM.name()),
            Map.entry("sasl.jaas.config", Keys.KAFKA_SASL_USERNAME.name() + " and " + Keys.KAFKA_SASL_PASSWORD_FILE.name()),
            Map.entry("ssl.truststore.certificates", Keys.KAFKA_SSL_CA.name()),
            Map.entry("ssl.keystore.certificate.chain", Keys.KAFKA_SSL_CERT.name()),
            Map.entry("ssl.keystore.key", Keys.KAFKA_SSL_KEY.name()),
            Map.entry("ssl.key.password", Keys.KAFKA_SSL_KEY.name() + " (unencrypted PKCS#8)"),
            Map.entry("ssl.keystore.password", Keys.KAFKA_SSL_CERT.name() + " and " + Keys.KAFKA_SSL_KEY.name()),
            Map.entry("ssl.truststore.password", Keys.KAFKA_SSL_CA.name()),
            Map.entry("ssl.endpoint.identification.algorithm", Keys.KAFKA_SSL_VERIFY_HOST.name()));

    static final String OAUTH_ALLOWED_URLS = "org.apache.kafka.sasl.oauthbearer.allowed.urls";

    private static final Map<String, String> WHY_GUARDED = Map.ofEntries(
            Map.entry("acks", "acks=all: the edge's 250 means every in-sync replica has the message"),
            Map.entry("enable.idempotence", "idempotent producers: a retried send never queues a message twice"),
            Map.entry("enable.auto.commit", "manual commits: an offset is committed only once its record is settled"),
            Map.entry("isolation.level", "the relay chooses what its consumers read"),
            Map.entry("auto.offset.reset", "a new consumer group starts at the earliest record: latest would skip accepted "
                    + "mail, none would stop the consumer for good"),
            Map.entry("delivery.timeout.ms", "the edge answers 451 when Kafka has not acknowledged within edge.publish-timeout, "
                    + "and the producer's timeouts are derived from it"),
            Map.entry("max.block.ms", "a send must never wait longer than the edge's 451 rule and the outcome writer allow"),
            Map.entry("request.timeout.ms", "the edge's 451 rule and the outcome writer's timing rest on it"),
            Map.entry("max.request.size", "it follows message.max-size, so that every message the edge accepts fits"),
            Map.entry("max.in.flight.requests.per.connection", "above 5 an idempotent producer may reorder or duplicate"),
            Map.entry("retries", "an idempotent producer retries until delivery.timeout.ms; 0 would fail sends Kafka could take"),
            Map.entry("max.poll.interval.ms", "the worker's slowest delivery must fit before its partitions are taken away"),
            Map.entry("interceptor.classes", "an interceptor could change or drop records the relay acknowledged"),
            Map.entry("transaction.timeout.ms", "the relay's transactions are timed by the relay"),
            Map.entry("allow.auto.create.topics", "topics are created by the relay with its replication and flush settings, "
                    + "never by a consumer with the broker's defaults"));

    private KafkaSecurity() {
    }

    /** The access for {@code bootstrapServers} (the role's, or standalone's own broker, which stays plaintext). */
    public static KafkaAccess access(Settings s, String bootstrapServers) {
        Map<String, String> p = new TreeMap<>();
        String protocol = s.get(Keys.KAFKA_SECURITY);
        boolean tls = protocol.endsWith("SSL");
        boolean sasl = protocol.startsWith("SASL_");
        p.put("security.protocol", protocol);
        if (sasl) {
            sasl(s, p);
        } else {
            unused(s, "SASL (SASL_SSL or SASL_PLAINTEXT do)", Keys.KAFKA_SASL_MECHANISM, Keys.KAFKA_SASL_USERNAME,
                    Keys.KAFKA_SASL_PASSWORD_FILE);
        }
        if (tls) {
            tls(s, p);
        } else {
            unused(s, "TLS (SSL or SASL_SSL do)", Keys.KAFKA_SSL_CA, Keys.KAFKA_SSL_CERT, Keys.KAFKA_SSL_KEY);
        }
        s.under(Keys.KAFKA_CLIENT_PREFIX).forEach((property, value) -> {
            String key = Keys.KAFKA_CLIENT_PREFIX + property;
            if (KafkaAccess.GUARDED.contains(property)) {
                throw new ConfigException(key, value, "the relay sets " + property + " itself and it cannot be changed ("
                        + WHY_GUARDED.getOrDefault(property, "its clients depend on it") + ")");
            }
            if (OWN_KEYS.containsKey(property)) {
                throw new ConfigException(key, null, "use " + OWN_KEYS.get(property) + " instead");
            }
            p.put(property, value);
        });
        String tokenUrl = p.get("sasl.oauthbearer.token.endpoint.url");
        if (tokenUrl != null && System.getProperty(OAUTH_ALLOWED_URLS) == null) {
            // Since Kafka 3.9.1 a client fetches tokens only from URLs listed in this property (CVE-2025-27817);
            // the operator named this one, so it is the one allowed.
            System.setProperty(OAUTH_ALLOWED_URLS, tokenUrl);
        }
        return new KafkaAccess(bootstrapServers, p);
    }

    /** A setting for what the security protocol does not use is a mistake to name, not to ignore. */
    private static void unused(Settings s, String what, Key<?>... keys) {
        for (Key<?> k : keys) {
            if (s.isSet(k)) {
                throw new ConfigException(k.name(), null, "is set, but " + Keys.KAFKA_SECURITY.name() + " is "
                        + s.get(Keys.KAFKA_SECURITY) + ", which does not use " + what);
            }
        }
    }

    private static void sasl(Settings s, Map<String, String> p) {
        if (!s.isSet(Keys.KAFKA_SASL_MECHANISM)) {
            throw new ConfigException(Keys.KAFKA_SASL_MECHANISM.name(), null, "required with " + Keys.KAFKA_SECURITY.name() + "="
                    + s.get(Keys.KAFKA_SECURITY));
        }
        String mechanism = s.get(Keys.KAFKA_SASL_MECHANISM);
        String user = s.get(Keys.KAFKA_SASL_USERNAME);
        if (user.isBlank()) {
            throw new ConfigException(Keys.KAFKA_SASL_USERNAME.name(), null, "required with SASL " + mechanism);
        }
        Path file = s.get(Keys.KAFKA_SASL_PASSWORD_FILE).orElseThrow(() -> new ConfigException(
                Keys.KAFKA_SASL_PASSWORD_FILE.name(), null, "required with SASL " + mechanism));
        String password = firstLine(Keys.KAFKA_SASL_PASSWORD_FILE, file);
        p.put("sasl.mechanism", mechanism);
        String module = switch (mechanism) {
            case "PLAIN" -> "org.apache.kafka.common.security.plain.PlainLoginModule";
            case "OAUTHBEARER" -> "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";
            default -> "org.apache.kafka.common.security.scram.ScramLoginModule";
        };
        if (mechanism.equals("OAUTHBEARER")) {
            // The client-credentials flow of KIP-768: the login handler fetches a token from the
            // endpoint (kafka.client.sasl.oauthbearer.token.endpoint.url) with this id and secret.
            p.put("sasl.login.callback.handler.class",
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler");
            p.put("sasl.jaas.config", module + " required clientId=" + quoted(user) + " clientSecret=" + quoted(password) + ";");
        } else {
            p.put("sasl.jaas.config", module + " required username=" + quoted(user) + " password=" + quoted(password) + ";");
        }
    }

    private static void tls(Settings s, Map<String, String> p) {
        Optional<Path> ca = s.get(Keys.KAFKA_SSL_CA);
        if (ca.isPresent()) {
            p.put("ssl.truststore.type", "PEM");
            p.put("ssl.truststore.certificates", pem(Keys.KAFKA_SSL_CA, ca.get(), "CERTIFICATE"));
        }
        Optional<Path> cert = s.get(Keys.KAFKA_SSL_CERT);
        Optional<Path> key = s.get(Keys.KAFKA_SSL_KEY);
        if (cert.isPresent() != key.isPresent()) {
            Key<?> missing = cert.isPresent() ? Keys.KAFKA_SSL_KEY : Keys.KAFKA_SSL_CERT;
            throw new ConfigException(missing.name(), null, "required for mTLS together with "
                    + (cert.isPresent() ? Keys.KAFKA_SSL_CERT : Keys.KAFKA_SSL_KEY).name());
        }
        if (cert.isPresent()) {
            p.put("ssl.keystore.type", "PEM");
            p.put("ssl.keystore.certificate.chain", pem(Keys.KAFKA_SSL_CERT, cert.get(), "CERTIFICATE"));
            p.put("ssl.keystore.key", pem(Keys.KAFKA_SSL_KEY, key.get(), "PRIVATE KEY"));
        }
        p.put("ssl.endpoint.identification.algorithm", s.get(Keys.KAFKA_SSL_VERIFY_HOST) ? "https" : "");
    }

    /**
     * What is wrong with the client certificate itself, for a refusal's message: a broker that rejects
     * an expired one says only "certificate_unknown".
     */
    public static Optional<String> clientCertificateTrouble(Settings s, Instant now) {
        Optional<Path> file = s.get(Keys.KAFKA_SECURITY).endsWith("SSL") ? s.get(Keys.KAFKA_SSL_CERT) : Optional.empty();
        if (file.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream in = Files.newInputStream(file.get())) {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            if (now.isAfter(cert.getNotAfter().toInstant())) {
                return Optional.of(Keys.KAFKA_SSL_CERT.name() + " " + file.get() + " expired at " + cert.getNotAfter().toInstant());
            }
            if (now.isBefore(cert.getNotBefore().toInstant())) {
                return Optional.of(Keys.KAFKA_SSL_CERT.name() + " " + file.get() + " is not valid before "
                        + cert.getNotBefore().toInstant());
            }
            return Optional.empty();
        } catch (IOException | GeneralSecurityException | ClassCastException e) {
            return Optional.of(Keys.KAFKA_SSL_CERT.name() + " " + file.get() + " cannot be parsed: " + e.getMessage());
        }
    }

    /** JAAS option values are quoted strings; a backslash or quote inside is escaped. */
    static String quoted(String value) {
        return '"' + value.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private static String firstLine(Key<?> key, Path file) {
        String text = read(key, file);
        int end = text.indexOf('\n');
        String line = (end < 0 ? text : text.substring(0, end)).replaceAll("\r$", "");
        if (line.isEmpty()) {
            throw new ConfigException(key.name(), file.toString(), "the file's first line is empty");
        }
        return line;
    }

    /** The PEM text of {@code file}, which must hold a block of {@code type}. */
    private static String pem(Key<?> key, Path file, String type) {
        String text = read(key, file);
        if (type.equals("PRIVATE KEY")) {
            if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")) {
                throw new ConfigException(key.name(), file.toString(), "the key is encrypted; give it unencrypted "
                        + "(openssl pkcs8 -topk8 -nocrypt) and protect the file instead (mode 0600, a Secret)");
            }
            if (text.matches("(?s).*-----BEGIN (RSA|EC) PRIVATE KEY-----.*")) {
                throw new ConfigException(key.name(), file.toString(), "the key is not PKCS#8; convert it with "
                        + "openssl pkcs8 -topk8 -nocrypt");
            }
        }
        if (!text.contains("-----BEGIN " + type + "-----")) {
            throw new ConfigException(key.name(), file.toString(), "holds no PEM " + type.toLowerCase(Locale.ROOT)
                    + " (-----BEGIN " + type + "-----)");
        }
        return text;
    }

    private static String read(Key<?> key, Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(key.name(), file.toString(), "cannot be read: " + e);
        }
    }
}
