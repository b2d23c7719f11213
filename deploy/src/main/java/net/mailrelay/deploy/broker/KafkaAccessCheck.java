package net.mailrelay.deploy.broker;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import net.mailrelay.protocol.record.KafkaAccess;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;

/**
 * Does Kafka let this relay in? Asked once at start, before anything else touches Kafka, so that a
 * wrong password or certificate is named as such instead of surfacing as a topic that cannot be
 * created. Only a refusal is reported here; a broker that does not answer is left to the start's own
 * timeouts, as before.
 */
public final class KafkaAccessCheck {

    private KafkaAccessCheck() {
    }

    /** Why the brokers refuse this relay, in words that name the setting to look at; empty when they let it in. */
    public static Optional<String> refusal(KafkaAccess kafka, Duration timeout) {
        int ms = (int) timeout.toMillis();
        try (Admin admin = Admin.create(kafka.config(Map.of(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ms, AdminClientConfig.CLIENT_ID_CONFIG, "mail-relay-access-check")))) {
            admin.describeCluster().nodes().get(ms, TimeUnit.MILLISECONDS);
            admin.listTopics().names().get(ms, TimeUnit.MILLISECONDS);
            return Optional.empty();
        } catch (ExecutionException e) {
            return Optional.ofNullable(explain(kafka, e.getCause()));
        } catch (java.util.concurrent.TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (org.apache.kafka.common.KafkaException e) {
            return Optional.ofNullable(explain(kafka, e));
        }
    }

    /** A refusal explained, or null when {@code e} is not one. */
    static String explain(KafkaAccess kafka, Throwable e) {
        String at = "Kafka at " + kafka + " refused this relay: ";
        if (e instanceof SaslAuthenticationException) {
            return at + "SASL authentication failed (" + e.getMessage() + "); check kafka.sasl.username, "
                    + "kafka.sasl.password-file and kafka.sasl.mechanism against the broker's user";
        }
        if (e instanceof SslAuthenticationException) {
            String root = rootMessage(e);
            if (root.contains("PKIX path") || root.contains("certification path")) {
                return at + "the broker's certificate is not signed by a trusted CA (" + root
                        + "); check kafka.ssl.ca-file";
            }
            if (root.contains("subject alternative") || root.contains("No name matching")) {
                return at + "the broker's certificate does not name the host it was reached at (" + root
                        + "); check kafka.bootstrap-servers and the broker's certificate (kafka.ssl.endpoint-identification)";
            }
            if (root.contains("expired") || root.contains("certificate") || root.contains("bad_certificate")) {
                return at + "the TLS handshake failed over this relay's client certificate (" + root
                        + "); check kafka.ssl.cert-file (expired, or not signed by a CA the broker trusts) and kafka.ssl.key-file";
            }
            return at + "the TLS handshake failed (" + root + "); check kafka.ssl.* and kafka.security-protocol";
        }
        if (e instanceof AuthenticationException) {
            return at + "authentication failed (" + rootMessage(e) + "); check kafka.security-protocol and kafka.sasl.*";
        }
        if (e instanceof AuthorizationException) {
            return at + "not authorized (" + e.getMessage() + "); the relay's principal needs the ACLs in docs/kafka-security.md";
        }
        return null;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        String message = e.getMessage();
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (t.getMessage() != null) {
                message = t.getMessage();
            }
        }
        return message == null ? e.getClass().getSimpleName() : message;
    }
}
