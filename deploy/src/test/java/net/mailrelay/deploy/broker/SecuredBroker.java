package net.mailrelay.deploy.broker;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import net.mailrelay.testing.Ports;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

/**
 * A real single-node KRaft broker, in this JVM, secured as production brokers are: a SASL_SSL listener
 * taking SCRAM-SHA-512 logins and an SSL listener requiring a client certificate (mTLS), both with a
 * certificate from a {@link TestCa}. A plaintext listener serves the test itself (creating the SCRAM
 * user, reading topics); the relay is never given it.
 */
public final class SecuredBroker implements AutoCloseable {

    private final EmbeddedBroker broker;
    private final int plaintext;
    private final int saslSsl;
    private final int mtls;

    private SecuredBroker(EmbeddedBroker broker, int plaintext, int saslSsl, int mtls) {
        this.broker = broker;
        this.plaintext = plaintext;
        this.saslSsl = saslSsl;
        this.mtls = mtls;
    }

    /** Starts the broker with a certificate from {@code ca}, trusting {@code ca}'s client certificates. */
    public static SecuredBroker start(Path dataDir, TestCa ca, String user, String password) throws Exception {
        int plain = Ports.free();
        int sasl = Ports.free();
        int ssl = Ports.free();
        int controller = Ports.free();
        Path logDir = dataDir.resolve("kafka").toAbsolutePath();
        java.nio.file.Files.createDirectories(logDir);
        Properties p = EmbeddedBroker.properties(logDir, plain, controller, 1 << 20, EmbeddedBroker.Node.SINGLE,
                new EmbeddedBroker.Threads(2, 1));
        String listeners = "PLAINTEXT://127.0.0.1:" + plain + ",SASL_SSL://127.0.0.1:" + sasl + ",SSL://127.0.0.1:" + ssl;
        p.put("listeners", listeners + ",CONTROLLER://127.0.0.1:" + controller);
        p.put("advertised.listeners", listeners);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT");
        p.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
        p.put("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;");
        TestCa.Issued cert = ca.issue("broker");
        p.put("ssl.keystore.type", "PEM");
        p.put("ssl.keystore.certificate.chain", cert.certPem());
        p.put("ssl.keystore.key", cert.keyPem());
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.certificates", ca.caPem());
        p.put("listener.name.ssl.ssl.client.auth", "required");
        EmbeddedBroker broker = EmbeddedBroker.start(dataDir, p, EmbeddedBroker.Node.SINGLE, "127.0.0.1:" + plain);
        SecuredBroker b = new SecuredBroker(broker, plain, sasl, ssl);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", b.plaintextServers()))) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password))).all().get();
        } catch (Exception e) {
            b.close();
            throw e;
        }
        return b;
    }

    /** For the test's own clients only. */
    public String plaintextServers() {
        return "127.0.0.1:" + plaintext;
    }

    public String saslSslServers() {
        return "127.0.0.1:" + saslSsl;
    }

    public String mtlsServers() {
        return "127.0.0.1:" + mtls;
    }

    @Override
    public void close() {
        broker.close();
    }
}
