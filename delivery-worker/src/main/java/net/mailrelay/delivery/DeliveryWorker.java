package net.mailrelay.delivery;

import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import javax.net.ssl.SSLException;
import net.mailrelay.delivery.attempt.AttemptRecords;
import net.mailrelay.delivery.attempt.DestinationGuard;
import net.mailrelay.delivery.attempt.MessageDelivery;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.delivery.queue.DeliveryLoop;
import net.mailrelay.delivery.queue.Fatal;
import net.mailrelay.delivery.queue.LedgerRebuild;
import net.mailrelay.delivery.queue.RetryRequests;
import net.mailrelay.delivery.queue.SuppressionFeed;
import net.mailrelay.delivery.route.MxResolver;
import net.mailrelay.delivery.route.Myself;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.delivery.smtp.ClientTls;
import net.mailrelay.delivery.smtp.ConnectionGate;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * delivery-worker: the relay's queue manager and SMTP client (Postfix's qmgr and smtp).
 *
 * <p>What it does: consumes accepted mail and due retries, routes each recipient domain (transport
 * table, then MX records), relays the message over SMTP and records the outcome: an event per
 * recipient, a retry record for temporary failures (scheduled on tier topics, Postfix-like backoff,
 * 5-day lifetime), a bounce request for permanent failures and expiries. An offset is committed only
 * after those records are acknowledged; a delivered-recipients ledger in Hazelcast keeps a record that
 * is read twice from being delivered twice.
 *
 * <p>Reads: {@code mail.outbound}, {@code mail.retry.*}. Writes: {@code mail.events},
 * {@code mail.retry.*}, {@code mail.bounce}. Talks SMTP to remote servers and DNS to the resolver.
 *
 * <p>Security: it connects out to servers named by DNS; replies are bounded in length and every stage
 * has a timeout. It never alters message content except for dot-stuffing on the wire.
 *
 * <p>RFCs: 5321 (SMTP, MX routing), 7505 (null MX), 1870 (SIZE), 6152 (8BITMIME), 6531 (SMTPUTF8),
 * 3463 (enhanced status codes).
 *
 * <p>Configuration keys: {@code hostname}, {@code route}, {@code dns.server}, {@code dns.timeout}, {@code dns.cache-size}, {@code delivery.mx-port}, {@code delivery.tls},
 * {@code route.tls}, {@code route.auth-file}, {@code delivery.tls-trust-file}, {@code delivery.reuse.*},
 * {@code queue.retry-tiers}, {@code queue.min-backoff}, {@code queue.max-backoff},
 * {@code queue.max-lifetime}, {@code delivery.max-in-flight}, {@code delivery.max-recipients},
 * {@code delivery.timeout.*}, {@code delivery.outcome-timeout}, {@code delivery.own-addresses},
 * {@code message.max-size}, {@code kafka.bootstrap-servers} (and {@code kafka.security-protocol}, {@code kafka.sasl.*}, {@code kafka.ssl.*}, {@code kafka.client.*}: docs/kafka-security.md),
 * {@code kafka.topic-prefix} (docs/configuration.md).
 */
public final class DeliveryWorker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryWorker.class);
    /** The consumer group of every worker of one relay: its topic prefix and "mail-relay-worker". */
    public static String groupId(Topics topics) {
        return topics.prefix() + "mail-relay-worker";
    }

    /** Everything a worker needs to start. */
    public record Config(
            String hostname,
            KafkaAccess kafka,
            Topics topics,
            TransportTable transports,
            RoutePolicies policies,
            Path trustedCertificates,
            SmtpClient.Reuse reuse,
            Duration slotWait,
            String dnsServer,
            Duration dnsTimeout,
            int dnsCacheSize,
            int mxPort,
            RetrySchedule schedule,
            int maxInFlight,
            int maxRecipientsPerTransaction,
            Timeouts timeouts,
            int maxRecordBytes,
            Duration shutdownGrace,
            Duration delayWarning,
            Duration suppressionTtl,
            Duration outcomeTimeout,
            Myself myself,
            Duration rebuildMargin,
            int rebuildMaxRecords,
            String groupInstanceId) {

        public Config {
            Objects.requireNonNull(hostname, "hostname");
            Objects.requireNonNull(kafka, "kafka");
            Objects.requireNonNull(topics, "topics");
            Objects.requireNonNull(transports, "transports");
            Objects.requireNonNull(policies, "policies");
            Objects.requireNonNull(reuse, "reuse");
            Objects.requireNonNull(schedule, "schedule");
            Objects.requireNonNull(timeouts, "timeouts");
            if (maxInFlight < 1) {
                throw new IllegalArgumentException("delivery.max-in-flight must be at least 1, not " + maxInFlight);
            }
            if (maxRecipientsPerTransaction < 1) {
                throw new IllegalArgumentException("delivery.max-recipients must be at least 1, not " + maxRecipientsPerTransaction);
            }
            Objects.requireNonNull(outcomeTimeout, "outcomeTimeout");
            myself = myself == null ? Myself.NOBODY : myself;
            rebuildMargin = rebuildMargin == null ? DEFAULT_REBUILD_MARGIN : rebuildMargin;
            rebuildMaxRecords = rebuildMaxRecords <= 0 ? DEFAULT_REBUILD_MAX_RECORDS : rebuildMaxRecords;
        }

        /** The defaults of delivery.ledger-rebuild.margin and .max-records. */
        public static final Duration DEFAULT_REBUILD_MARGIN = Duration.ofMinutes(2);
        public static final int DEFAULT_REBUILD_MAX_RECORDS = 1_000_000;

        /** With the ledger rebuild's defaults. */
        public Config(String hostname, KafkaAccess kafka, Topics topics, TransportTable transports,
                RoutePolicies policies, Path trustedCertificates, SmtpClient.Reuse reuse, Duration slotWait, String dnsServer,
                Duration dnsTimeout, int dnsCacheSize, int mxPort, RetrySchedule schedule, int maxInFlight,
                int maxRecipientsPerTransaction, Timeouts timeouts, int maxRecordBytes, Duration shutdownGrace,
                Duration delayWarning, Duration suppressionTtl, Duration outcomeTimeout, Myself myself) {
            this(hostname, kafka, topics, transports, policies, trustedCertificates, reuse, slotWait, dnsServer,
                    dnsTimeout, dnsCacheSize, mxPort, schedule, maxInFlight, maxRecipientsPerTransaction, timeouts,
                    maxRecordBytes, shutdownGrace, delayWarning, suppressionTtl, outcomeTimeout, myself, null, 0, null);
        }

        /**
         * With a static membership of the consumer group ({@code group.instance.id}): a restart takes its
         * partitions back at once, instead of after the session timeout of the member that died. Only for a
         * worker that no other process can run beside under the same name (standalone); null otherwise.
         */
        public Config withGroupInstanceId(String id) {
            return new Config(hostname, kafka, topics, transports, policies, trustedCertificates, reuse, slotWait,
                    dnsServer, dnsTimeout, dnsCacheSize, mxPort, schedule, maxInFlight, maxRecipientsPerTransaction,
                    timeouts, maxRecordBytes, shutdownGrace, delayWarning, suppressionTtl, outcomeTimeout, myself,
                    rebuildMargin, rebuildMaxRecords, id);
        }
    }

    /** The cluster's shared state as the worker uses it; {@link #NONE} for a worker on its own. */
    public record Cluster(RecipientLedger ledger, ConnectionGate gate, DestinationGuard guard, RetryRequests retryRequests,
            Suppressions suppressions, SuppressionFeed.Sink suppressionCache, QueueControls controls) {
        public Cluster {
            Objects.requireNonNull(ledger, "ledger");
            Objects.requireNonNull(gate, "gate");
            Objects.requireNonNull(guard, "guard");
            Objects.requireNonNull(retryRequests, "retryRequests");
            Objects.requireNonNull(suppressions, "suppressions");
            Objects.requireNonNull(controls, "controls");
        }

        public Cluster(RecipientLedger ledger, ConnectionGate gate, DestinationGuard guard, RetryRequests retryRequests,
                Suppressions suppressions, SuppressionFeed.Sink suppressionCache) {
            this(ledger, gate, guard, retryRequests, suppressions, suppressionCache, QueueControls.NONE);
        }

        public Cluster(RecipientLedger ledger, ConnectionGate gate, DestinationGuard guard, RetryRequests retryRequests) {
            this(ledger, gate, guard, retryRequests, Suppressions.NONE, null);
        }
    }

    private final SmtpClient client;
    private final DeliveryLoop loop;
    private final SuppressionFeed feed;
    private final List<String> subscribed;

    private DeliveryWorker(Config c, Cluster cluster, WorkerMetrics metrics, Clock clock, Fatal fatal) throws SSLException {
        DestinationGuard guard = metrics.counting(cluster.guard());
        client = new SmtpClient(c.timeouts(), new ClientTls(c.trustedCertificates()), c.reuse(), cluster.gate(),
                c.slotWait());
        MxResolver resolver = new MxResolver(MxResolver.resolver(c.dnsServer(), c.dnsTimeout()), c.dnsCacheSize(), 5, c.mxPort(),
                c.myself());
        // The whole session may not outlast the sum of its stage timeouts; this bounds a stuck delivery thread.
        MessageDelivery delivery = new MessageDelivery(c.transports(), c.policies(), resolver, client, cluster.ledger(),
                guard, cluster.suppressions(), cluster.controls(), c.hostname(), c.maxRecipientsPerTransaction(),
                c.timeouts().sessionLimit(), clock);
        AttemptRecords records = new AttemptRecords(c.topics(), c.schedule(), c.hostname(),
                () -> ThreadLocalRandom.current().nextLong(), c.delayWarning(), c.suppressionTtl(), metrics, c.maxRecordBytes());
        loop = new DeliveryLoop(c.kafka(), groupId(c.topics()), delivery, records, new DeliveryLoop.Settings(
                c.topics(), c.schedule().tiers(), c.maxInFlight(), c.maxRecordBytes(), c.shutdownGrace(), c.outcomeTimeout(),
                "worker-" + c.hostname(), c.groupInstanceId(), clock, cluster.retryRequests(), cluster.ledger(), metrics::lateness,
                new LedgerRebuild.Limits(c.rebuildMargin(), c.rebuildMaxRecords(), metrics::rebuilt,
                        c.timeouts().claimLease()), (job, error) -> {
                    metrics.fatal();
                    fatal.died(job, error);
                })).start();
        feed = cluster.suppressionCache() == null ? null
                : new SuppressionFeed(c.kafka(), c.topics().suppression(), cluster.suppressionCache(),
                        "suppression-" + c.hostname()).start();
        subscribed = new ArrayList<>();
        subscribed.add(c.topics().outbound());
        c.schedule().tiers().forEach(t -> subscribed.add(c.topics().retryTier(t)));
        metrics.watch(this, guard, cluster.suppressions(), c.topics().prefix());
        LOG.info("worker consuming {} and {} retry tiers {}; routes {}", c.topics().outbound(), c.schedule().tiers().size(),
                c.schedule().tiers(), c.transports());
    }

    public static DeliveryWorker start(Config config, Cluster cluster) throws SSLException {
        return new DeliveryWorker(config, cluster, WorkerMetrics.none(), Clock.systemUTC(), Fatal.EXIT);
    }

    /** @param registry where the worker's meters go (docs/metrics.md), the Kafka clients' included */
    public static DeliveryWorker start(Config config, Cluster cluster, MeterRegistry registry) throws SSLException {
        return start(config, cluster, registry, Fatal.EXIT);
    }

    /** @param fatal what a delivery thread's death by an Error does: {@link Fatal#EXIT}, but for tests */
    public static DeliveryWorker start(Config config, Cluster cluster, MeterRegistry registry, Fatal fatal) throws SSLException {
        DeliveryWorker w = new DeliveryWorker(config, cluster, new WorkerMetrics(registry), Clock.systemUTC(), fatal);
        w.loop.bindClientMetrics(registry);
        return w;
    }

    int openConnections() {
        return client.openConnections();
    }

    int inFlight() {
        return loop.inFlight();
    }

    List<String> subscribedTopics() {
        return subscribed;
    }

    long lag(String topic) {
        return loop.lag().getOrDefault(topic, 0L);
    }

    long uncommitted(String topic) {
        return loop.uncommitted().getOrDefault(topic, 0L);
    }

    double oldestInFlightSeconds() {
        return loop.oldestInFlight().toMillis() / 1000.0;
    }

    @Override
    public void close() {
        loop.close();
        client.close();
        if (feed != null) {
            feed.close();
        }
    }
}
