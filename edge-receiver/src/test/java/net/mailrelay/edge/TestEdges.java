package net.mailrelay.edge;

import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.mailrelay.edge.dkim.MessageSigning;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.session.BareLineFeeds;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;

/** Builds edge configurations for tests: loopback listeners on port 0, small limits, a test certificate. */
public final class TestEdges {

    private static SelfSignedCertificate certificate;

    String bootstrap;
    Topics topics;
    List<EdgeReceiver.Listener> listeners = new ArrayList<>();
    long maxMessageSize = 10_000;
    int maxReceivedHeaders = 50;
    BareLineFeeds bareLineFeeds = BareLineFeeds.REJECT;
    Duration idle = Duration.ofMinutes(5);
    Duration publish = Duration.ofSeconds(30);
    public List<Cidr> trusted = List.of();
    Set<String> relayDomains = Set.of("routed.test");
    int maxConnections = 1000;
    int maxConnectionsPerClient = 50;
    Path usersFile;
    DkimKeys dkimKeys = DkimKeys.none();
    MessageSigning.Rules dkimRules = new MessageSigning.Rules(true, java.util.Map.of());

    public TestEdges(String bootstrap, Topics topics) {
        this.bootstrap = bootstrap;
        this.topics = topics;
    }

    TestEdges listen(ListenerPolicy policy) {
        listeners.add(new EdgeReceiver.Listener(policy, new InetSocketAddress("127.0.0.1", 0)));
        return this;
    }

    static synchronized SelfSignedCertificate certificate() {
        if (certificate == null) {
            try {
                certificate = new SelfSignedCertificate("relay.test");
            } catch (CertificateException e) {
                throw new IllegalStateException(e);
            }
        }
        return certificate;
    }

    EdgeReceiver.Config config() {
        if (listeners.isEmpty()) {
            listen(ListenerPolicy.forMx(true));
        }
        SelfSignedCertificate c = certificate();
        return new EdgeReceiver.Config("relay.test", listeners, KafkaAccess.plaintext(bootstrap), topics, maxMessageSize, 100, 20,
                maxReceivedHeaders, bareLineFeeds, idle, publish, trusted, relayDomains, maxConnections,
                maxConnectionsPerClient, c.certificate().toPath(), c.privateKey().toPath(), usersFile, dkimKeys, dkimRules, null);
    }

    public EdgeReceiver start(ClientGuard guard) throws Exception {
        return EdgeReceiver.start(config(), guard);
    }
}
