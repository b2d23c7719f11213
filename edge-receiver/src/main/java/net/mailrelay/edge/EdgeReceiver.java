package net.mailrelay.edge;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import net.mailrelay.edge.listener.SmtpListener;
import net.mailrelay.edge.policy.Cidr;
import net.mailrelay.edge.policy.RelayPolicy;
import net.mailrelay.edge.queue.KafkaPublisher;
import net.mailrelay.edge.session.SessionSettings;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * edge-receiver: the relay's SMTP server (Postfix's smtpd).
 *
 * <p>What it does: accepts mail over SMTP from clients and other MTAs, checks relay permission, prepends
 * a Received: header, assigns a queue id and publishes the message to Kafka. It answers 250 to the end
 * of DATA only after Kafka has acknowledged the record (acks=all); if Kafka does not acknowledge within
 * the publish timeout it answers 451 4.3.0, so mail is either durable or still the client's.
 *
 * <p>Reads: SMTP connections. Writes: {@code mail.outbound}.
 *
 * <p>Security: it faces the internet. It relays only for trusted networks and to relay domains, never
 * openly; every input line is bounded; message content is bounded by the size limit; the event loop
 * never blocks on Kafka.
 *
 * <p>RFCs: 5321 (SMTP), 1870 (SIZE), 2920 (PIPELINING), 2034 and 3463 (enhanced status codes), 6152
 * (8BITMIME), 6531 (SMTPUTF8), 3461 (DSN parameters).
 *
 * <p>Configuration keys: {@code hostname}, {@code smtp.port}, {@code smtp.bind-address},
 * {@code message.max-size}, {@code smtp.max-recipients}, {@code smtp.max-errors},
 * {@code smtp.idle-timeout}, {@code edge.publish-timeout}, {@code trusted-networks},
 * {@code relay-domains}, {@code kafka.bootstrap-servers}, {@code kafka.topic-prefix} (docs/configuration.md).
 */
public final class EdgeReceiver implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EdgeReceiver.class);

    /** Everything the edge needs to start. */
    public record Config(
            String hostname,
            InetSocketAddress smtpAddress,
            String bootstrapServers,
            Topics topics,
            long maxMessageSize,
            int maxRecipients,
            int maxErrors,
            Duration idleTimeout,
            Duration publishTimeout,
            List<Cidr> trustedNetworks,
            Set<String> relayDomains) {

        public Config {
            Objects.requireNonNull(hostname, "hostname");
            Objects.requireNonNull(smtpAddress, "smtpAddress");
            Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            Objects.requireNonNull(topics, "topics");
            trustedNetworks = List.copyOf(trustedNetworks);
            relayDomains = Set.copyOf(relayDomains);
        }
    }

    private final EventLoopGroup acceptors;
    private final EventLoopGroup workers;
    private final KafkaPublisher publisher;
    private final SmtpListener listener;

    private EdgeReceiver(Config config, Clock clock) throws InterruptedException {
        SessionSettings settings = new SessionSettings(config.hostname(), config.maxMessageSize(), config.maxRecipients(),
                config.maxErrors(), new RelayPolicy(config.trustedNetworks(), config.relayDomains()));
        publisher = new KafkaPublisher(config.bootstrapServers(), config.topics().outbound(), config.publishTimeout(),
                RecordCodec.maxRecordBytes(config.maxMessageSize()), "edge-" + config.hostname());
        acceptors = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
        try {
            listener = new SmtpListener(acceptors, workers, config.smtpAddress(), settings, config.idleTimeout(),
                    publisher, clock);
        } catch (RuntimeException | InterruptedException e) {
            shutdownLoops();
            publisher.close();
            throw e;
        }
        LOG.info("edge listening for SMTP on {}", listener.localAddress());
    }

    public static EdgeReceiver start(Config config) throws InterruptedException {
        return start(config, Clock.systemUTC());
    }

    public static EdgeReceiver start(Config config, Clock clock) throws InterruptedException {
        return new EdgeReceiver(config, clock);
    }

    public InetSocketAddress smtpAddress() {
        return listener.localAddress();
    }

    @Override
    public void close() {
        listener.close();
        shutdownLoops();
        publisher.close();
    }

    private void shutdownLoops() {
        acceptors.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
