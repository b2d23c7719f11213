package net.mailrelay.edge;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import net.mailrelay.edge.auth.CredentialStore;
import net.mailrelay.edge.auth.PasswordAuthenticator;
import net.mailrelay.edge.dkim.MessageSigning;
import net.mailrelay.edge.listener.ListenerContext;
import net.mailrelay.edge.listener.SmtpListener;
import net.mailrelay.edge.listener.TlsContexts;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.policy.ConnectionLimits;
import net.mailrelay.edge.policy.RecipientBlocks;
import net.mailrelay.edge.policy.RelayPolicy;
import net.mailrelay.edge.queue.KafkaPublisher;
import net.mailrelay.edge.session.BareLineFeeds;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.edge.session.SessionSettings;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * edge-receiver: the relay's SMTP server (Postfix's smtpd).
 *
 * <p>What it does: accepts mail over SMTP on up to three listeners (MX on 25 with STARTTLS; submission
 * on 587 with STARTTLS and AUTH required; submissions on 465 with implicit TLS and AUTH required),
 * checks relay permission, prepends a Received: header (and on submission a missing Message-ID or
 * Date), signs the message with DKIM when its sender may sign, assigns a queue id and publishes the
 * message to Kafka. It answers 250 to the end of the message only after Kafka has acknowledged the
 * record (acks=all); if Kafka does not acknowledge within the publish timeout it answers 451 4.3.0, so
 * mail is either durable or still the client's.
 *
 * <p>Reads: SMTP connections; the users file (AUTH). Writes: {@code mail.outbound}. Shares per-client
 * counters (connection rate, AUTH failures) with the other edges through Hazelcast.
 *
 * <p>Security: it faces the internet. It relays only for trusted networks, authenticated clients and
 * relay domains, never openly; AUTH is offered only inside TLS (1.2 and 1.3, AEAD ciphers); plaintext
 * pipelined after STARTTLS is dropped; a bare LF never ends DATA (SMTP smuggling) and is refused by
 * default; every line, message, recipient list, error count and connection count is bounded; the event
 * loop never blocks on Kafka, Hazelcast or password hashing. Passwords are never logged.
 *
 * <p>RFCs: 5321 (SMTP), 1870 (SIZE), 2920 (PIPELINING), 2034 and 3463 (enhanced status codes), 3030
 * (CHUNKING), 3207 (STARTTLS), 3461 (DSN parameters), 4954 and 4616 (AUTH, PLAIN), 6152 (8BITMIME), 6409
 * (submission), 6531 (SMTPUTF8), 8314 (implicit TLS), 6376 and 8463 (DKIM signing, RSA and Ed25519).
 *
 * <p>Configuration keys: {@code hostname}, {@code smtp.*}, {@code submission.*}, {@code smtps.*},
 * {@code tls.cert-file}, {@code tls.key-file}, {@code auth.*}, {@code message.max-size},
 * {@code edge.publish-timeout}, {@code trusted-networks}, {@code relay-domains}, {@code dkim.*} (docs/deliverability.md),
 * {@code kafka.bootstrap-servers} (and {@code kafka.security-protocol}, {@code kafka.sasl.*}, {@code kafka.ssl.*}, {@code kafka.client.*}: docs/kafka-security.md), {@code kafka.topic-prefix} (docs/configuration.md, docs/edge.md).
 */
public final class EdgeReceiver implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EdgeReceiver.class);

    /** One listener: what it offers, and where. */
    public record Listener(ListenerPolicy policy, InetSocketAddress address) {
        public Listener {
            Objects.requireNonNull(policy, "policy");
            Objects.requireNonNull(address, "address");
        }
    }

    /** Everything the edge needs to start. */
    public record Config(
            String hostname,
            List<Listener> listeners,
            KafkaAccess kafka,
            Topics topics,
            long maxMessageSize,
            int maxRecipients,
            int maxErrors,
            int maxReceivedHeaders,
            BareLineFeeds bareLineFeeds,
            Duration idleTimeout,
            Duration publishTimeout,
            List<Cidr> trustedNetworks,
            Set<String> relayDomains,
            int maxConnections,
            int maxConnectionsPerClient,
            Path tlsCertificate,
            Path tlsKey,
            Path usersFile,
            DkimKeys dkimKeys,
            MessageSigning.Rules dkimRules,
            String transactionalId) {

        public Config {
            Objects.requireNonNull(hostname, "hostname");
            listeners = List.copyOf(listeners);
            Objects.requireNonNull(kafka, "kafka");
            Objects.requireNonNull(topics, "topics");
            Objects.requireNonNull(bareLineFeeds, "bareLineFeeds");
            trustedNetworks = List.copyOf(trustedNetworks);
            relayDomains = Set.copyOf(relayDomains);
            Objects.requireNonNull(dkimKeys, "dkimKeys");
            Objects.requireNonNull(dkimRules, "dkimRules");
            boolean needsTls = listeners.stream().anyMatch(l -> l.policy().startTlsOffered() || l.policy().implicitTls());
            if (needsTls && (tlsCertificate == null || tlsKey == null)) {
                throw new IllegalArgumentException("a listener offers TLS, so tls.cert-file and tls.key-file must be set");
            }
        }
    }

    private final EventLoopGroup acceptors;
    private final EventLoopGroup workers;
    private final KafkaPublisher publisher;
    private final PasswordAuthenticator authenticator;
    private final MessageSigning signing;
    private final List<SmtpListener> listeners = new ArrayList<>();

    private EdgeReceiver(Config config, ClientGuard guard, RecipientBlocks blocks, EdgeMetrics metrics, BooleanSupplier ready,
            Clock clock) throws InterruptedException, IOException {
        RelayPolicy relay = new RelayPolicy(config.trustedNetworks(), config.relayDomains());
        SessionSettings base = new SessionSettings(config.hostname(), ListenerPolicy.forMx(false), config.maxMessageSize(),
                config.maxRecipients(), config.maxErrors(), config.maxReceivedHeaders(), config.bareLineFeeds(), relay, blocks);
        SslContext tls = config.tlsCertificate() == null ? null : TlsContexts.server(config.tlsCertificate(), config.tlsKey());
        CredentialStore users = config.usersFile() == null ? CredentialStore.empty() : CredentialStore.load(config.usersFile());
        ConnectionLimits limits = new ConnectionLimits(config.maxConnections(), config.maxConnectionsPerClient(), relay);
        publisher = new KafkaPublisher(config.kafka(), config.topics().outbound(), config.publishTimeout(),
                RecordCodec.maxRecordBytes(config.maxMessageSize()), "edge-" + config.hostname(),
                config.transactionalId() == null ? KafkaPublisher.transactionalId("edge-" + config.hostname()) : config.transactionalId(),
                metrics);
        authenticator = new PasswordAuthenticator(users, guard, 2);
        signing = new MessageSigning(config.dkimKeys(), config.dkimRules(), clock, metrics);
        acceptors = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
        try {
            for (Listener l : config.listeners()) {
                ListenerContext context = new ListenerContext(base.forListener(l.policy()), config.idleTimeout(), publisher,
                        authenticator, guard, limits, tls, clock, metrics, ready, signing);
                SmtpListener listener = new SmtpListener(acceptors, workers, l.address(), context);
                listeners.add(listener);
                LOG.info("edge listening for SMTP ({}) on {}", listener.name(), listener.localAddress());
            }
            if (config.listeners().stream().anyMatch(l -> l.policy().authOffered()) && users.isEmpty()) {
                LOG.warn("AUTH is offered but no users are configured (auth.users-file); nobody can authenticate");
            }
        } catch (RuntimeException | InterruptedException e) {
            close();
            throw e;
        }
    }

    public static EdgeReceiver start(Config config, ClientGuard guard) throws InterruptedException, IOException {
        return new EdgeReceiver(config, guard, RecipientBlocks.NONE, EdgeMetrics.none(), () -> true, Clock.systemUTC());
    }

    public static EdgeReceiver start(Config config, ClientGuard guard, RecipientBlocks blocks)
            throws InterruptedException, IOException {
        return new EdgeReceiver(config, guard, blocks, EdgeMetrics.none(), () -> true, Clock.systemUTC());
    }

    /**
     * @param metrics where the listeners count (docs/metrics.md)
     * @param ready false while mail cannot be queued (Kafka unreachable, cluster not joined): new
     *        connections are answered 421 4.3.2 and closed, so clients try another edge or later
     */
    public static EdgeReceiver start(Config config, ClientGuard guard, RecipientBlocks blocks, EdgeMetrics metrics,
            BooleanSupplier ready) throws InterruptedException, IOException {
        return new EdgeReceiver(config, guard, blocks, metrics, ready, Clock.systemUTC());
    }

    /** Whether the Kafka producer's transactions are ready, so that a message now is not answered 451. */
    public boolean publishing() {
        return publisher.transactionsReady();
    }

    /** The bound address of the listener with this name ("smtp", "submission", "submissions"), or null. */
    public InetSocketAddress address(String listenerName) {
        return listeners.stream().filter(l -> l.name().equals(listenerName)).findFirst()
                .map(SmtpListener::localAddress).orElse(null);
    }

    /** The first listener's address (the MX listener in the usual setup). */
    public InetSocketAddress smtpAddress() {
        return listeners.get(0).localAddress();
    }

    @Override
    public void close() {
        listeners.forEach(SmtpListener::close);
        var acceptorsDone = acceptors.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        var workersDone = workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        // Bounded: a stop must never hang on an event loop (one did once, after a long benchmark); the
        // connections are closed by then, and the process is on its way out.
        if (!acceptorsDone.awaitUninterruptibly(10, TimeUnit.SECONDS) || !workersDone.awaitUninterruptibly(10, TimeUnit.SECONDS)) {
            LOG.warn("the SMTP event loops did not stop within 10 s; stopping the rest anyway");
        }
        authenticator.close();
        signing.close();
        publisher.close();
    }
}
