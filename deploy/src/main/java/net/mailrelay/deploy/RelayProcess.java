package net.mailrelay.deploy;

import com.hazelcast.core.HazelcastInstance;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import net.mailrelay.bounce.BounceService;
import net.mailrelay.delivery.DeliveryWorker;
import net.mailrelay.delivery.cluster.HazelcastConnectionGate;
import net.mailrelay.delivery.cluster.HazelcastDestinationGuard;
import net.mailrelay.delivery.cluster.HazelcastLedger;
import net.mailrelay.delivery.cluster.HazelcastQueueControls;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.cluster.HazelcastRetryRequests;
import net.mailrelay.delivery.queue.SuppressionFeed;
import net.mailrelay.delivery.queue.SuppressionList;
import net.mailrelay.delivery.route.Myself;
import net.mailrelay.delivery.route.NextHop;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.smtp.Credentials;
import net.mailrelay.delivery.smtp.SmtpClient;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.delivery.smtp.Timeouts;
import net.mailrelay.deploy.broker.EmbeddedBroker;
import net.mailrelay.deploy.broker.KafkaAccessCheck;
import net.mailrelay.deploy.broker.KafkaHealth;
import net.mailrelay.deploy.broker.SuppressionTopic;
import net.mailrelay.deploy.ops.SuppressionAdmin;
import net.mailrelay.deploy.ops.QueueAdmin;
import net.mailrelay.deploy.broker.MessageHistory;
import net.mailrelay.deploy.broker.QueueShape;
import net.mailrelay.deploy.broker.TopicReplication;
import net.mailrelay.deploy.broker.TopicSetup;
import net.mailrelay.deploy.cluster.ClusterCredentials;
import net.mailrelay.deploy.cluster.DkimReload;
import net.mailrelay.deploy.cluster.HazelcastMember;
import net.mailrelay.deploy.config.KafkaSecurity;
import net.mailrelay.deploy.config.Keys;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.deploy.ops.LogFormat;
import net.mailrelay.deploy.ops.OpsServer;
import net.mailrelay.deploy.ops.Readiness;
import net.mailrelay.deploy.config.ConfigException;
import net.mailrelay.deploy.tls.SelfSignedCertificate;
import net.mailrelay.edge.ClientGuard;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.edge.EdgeReceiver;
import net.mailrelay.edge.auth.UsersFileException;
import net.mailrelay.edge.dkim.MessageSigning;
import net.mailrelay.edge.cluster.HazelcastClientGuard;
import net.mailrelay.edge.policy.RecipientBlocks;
import net.mailrelay.protocol.dkim.DkimKeyException;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.edge.policy.SuppressedRecipients;
import net.mailrelay.edge.session.BareLineFeeds;
import net.mailrelay.edge.session.ListenerPolicy;
import net.mailrelay.protocol.cluster.Seal;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.SuppressionEntry;
import net.mailrelay.protocol.record.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running relay process: the parts a role needs, started in dependency order (Kafka, Hazelcast,
 * bounce, worker, edge: mail is accepted only once everything behind the edge is up) and closed in
 * the reverse order.
 */
public final class RelayProcess implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RelayProcess.class);

    /** What a process runs. */
    public enum Role {
        STANDALONE, EDGE, WORKER, BOUNCE
    }

    private final Deque<AutoCloseable> parts = new ArrayDeque<>();
    private EdgeReceiver edge;
    private OpsServer ops;
    private KafkaAccess kafka;

    private RelayProcess() {
    }

    /**
     * How long the ledger keeps a recipient with a queued retry copy: twice the longest a copy waits
     * between readings (the maximal backoff, or the longest tier), and an hour for consumer lag.
     */
    static Duration copyHorizon(Duration maxBackoff, List<Duration> tiers) {
        Duration longest = tiers.stream().max(Duration::compareTo).orElse(Duration.ZERO);
        return (maxBackoff.compareTo(longest) > 0 ? maxBackoff : longest).multipliedBy(2).plusHours(1);
    }

    public static RelayProcess start(Role role, Settings s) throws Exception {
        RelayProcess p = new RelayProcess();
        try {
            p.startParts(role, s);
        } catch (Exception | Error e) {
            p.close();
            throw e;
        }
        return p;
    }

    private void startParts(Role role, Settings s) throws Exception {
        LogFormat.apply(s.get(Keys.LOG_FORMAT));
        String hostname = hostname(s);
        // Checked before anything starts, so that a missing secret is exit 2 at once, not after Kafka.
        ClusterCredentials.Holder holder = switch (role) {
            case STANDALONE -> ClusterCredentials.Holder.STANDALONE;
            case EDGE -> ClusterCredentials.Holder.EDGE;
            default -> ClusterCredentials.Holder.WORKER;
        };
        String clusterName = role == Role.BOUNCE ? null : ClusterCredentials.clusterName(s, holder);
        Seal seal = role == Role.BOUNCE ? null : ClusterCredentials.seal(s, holder);
        PrometheusMeterRegistry registry = OpsServer.registry(role.name().toLowerCase(java.util.Locale.ROOT));
        parts.push(registry::close);
        int maxRecordBytes = RecordCodec.maxRecordBytes(s.get(Keys.MAX_MESSAGE_SIZE));
        Topics topics = new Topics(s.get(Keys.TOPIC_PREFIX));
        List<Duration> tiers = s.get(Keys.RETRY_TIERS);
        boolean standalone = role == Role.STANDALONE;
        if (standalone) {
            EmbeddedBroker.Threads threads = new EmbeddedBroker.Threads(s.get(Keys.BROKER_IO_THREADS), s.get(Keys.BROKER_NETWORK_THREADS))
                    .or(EmbeddedBroker.Threads.sharing(Runtime.getRuntime().availableProcessors()));
            EmbeddedBroker broker = EmbeddedBroker.start(s.get(Keys.DATA_DIR), s.get(Keys.BROKER_PORT),
                    s.get(Keys.CONTROLLER_PORT), maxRecordBytes, false, threads);
            parts.push(broker);
            kafka = KafkaAccess.plaintext(broker.bootstrapServers());
            if (!s.get(Keys.KAFKA_SECURITY).equals("PLAINTEXT") || !s.under(Keys.KAFKA_CLIENT_PREFIX).isEmpty()) {
                throw new ConfigException(Keys.KAFKA_SECURITY.name(), s.get(Keys.KAFKA_SECURITY), "standalone runs its own "
                        + "broker on 127.0.0.1 and takes no kafka.security-protocol or kafka.client.* (the cluster roles do)");
            }
        } else {
            kafka = KafkaSecurity.access(s, s.get(Keys.BOOTSTRAP_SERVERS));
            awaitAdmission(role, s, hostname, registry);
        }
        // A standalone broker has no replica, so the topics that carry mail are flushed before each ack, as
        // Postfix fsyncs a queue file before its 250. The event log is not (Postfix's maillog is not
        // either): a power cut may cost its last lines, never a message.
        List<String> mailTopics = new ArrayList<>(topics.all(tiers));
        mailTopics.remove(topics.events());
        TopicSetup.ensure(kafka, mailTopics, s.get(Keys.PARTITIONS), s.get(Keys.REPLICATION),
                s.get(Keys.MIN_INSYNC), maxRecordBytes, standalone && s.get(Keys.FLUSH_EACH_MESSAGE), Duration.ofSeconds(60));
        TopicSetup.ensure(kafka, List.of(topics.events()), s.get(Keys.PARTITIONS), s.get(Keys.REPLICATION),
                s.get(Keys.MIN_INSYNC), maxRecordBytes, false, Duration.ofSeconds(60));
        if (standalone && s.get(Keys.FLUSH_EACH_MESSAGE)) {
            // The commit of an edge's transaction too: a 250 rests on it.
            TopicSetup.flushTransactionLog(kafka, STANDALONE_TRANSACTIONAL_ID, Duration.ofSeconds(60));
        }
        List<String> relayTopics = new ArrayList<>(topics.all(tiers));
        if (!s.get(Keys.SUPPRESSION_MODE).equals("off")) {
            TopicSetup.ensureCompacted(kafka, topics.suppression(), s.get(Keys.PARTITIONS), s.get(Keys.REPLICATION),
                    s.get(Keys.MIN_INSYNC), s.get(Keys.SUPPRESSION_TTL).plusDays(1), Duration.ofSeconds(60));
            relayTopics.add(topics.suppression());
        }
        checkReplication(s, topics, relayTopics, registry);
        KafkaHealth kafkaHealth = new KafkaHealth(kafka);
        parts.push(kafkaHealth);
        Map<String, BooleanSupplier> readiness = new LinkedHashMap<>();
        readiness.put("kafka", kafkaHealth);

        DkimKeys dkim = dkimKeys(s);
        HazelcastInstance hazelcast = null;
        if (role != Role.BOUNCE) {
            HazelcastMember.Discovery discovery = s.get(Keys.HAZELCAST_DISCOVERY).equals("kubernetes")
                    ? new HazelcastMember.Discovery.Kubernetes(s.get(Keys.HAZELCAST_K8S_SERVICE), s.get(Keys.HAZELCAST_K8S_NAMESPACE))
                    : new HazelcastMember.Discovery.TcpIp(s.get(Keys.HAZELCAST_MEMBERS));
            hazelcast = HazelcastMember.start(clusterName, standalone ? "127.0.0.1" : s.get(Keys.HAZELCAST_BIND),
                    s.get(Keys.HAZELCAST_PORT), discovery, role == Role.EDGE);
            HazelcastInstance hz = hazelcast;
            parts.push(hz::shutdown);
            readiness.put("hazelcast", () -> hz.getLifecycleService().isRunning());
            Gauge.builder("mailrelay.hazelcast.members", hz, h -> h.getLifecycleService().isRunning()
                    ? h.getCluster().getMembers().size() : 0).description("Members of the Hazelcast cluster this process sees")
                    .register(registry);
        }
        Readiness ready = new Readiness(readiness, Duration.ofSeconds(2));
        parts.push(ready);
        if (role == Role.STANDALONE || role == Role.BOUNCE) {
            BounceService.Config bc = new BounceService.Config(hostname, kafka, topics, maxRecordBytes,
                    s.get(Keys.BOUNCE_RETURN_SIZE), dkim);
            // Standalone: as its worker, the same consumer name over a restart (one process per data directory).
            parts.push(BounceService.start(standalone ? bc.withGroupInstanceId("standalone-bounce") : bc, registry));
        }
        QueueAdmin queueAdmin = null;
        if (role == Role.STANDALONE || role == Role.WORKER) {
            HazelcastConnectionGate gate = new HazelcastConnectionGate(hazelcast, s.get(Keys.DESTINATION_CONCURRENCY),
                    s.get(Keys.ROUTE_CONCURRENCY), Duration.ofSeconds(60));
            parts.push(gate);
            HazelcastRetryRequests retries = new HazelcastRetryRequests(hazelcast, java.time.Clock.systemUTC());
            parts.push(retries);
            boolean suppression = !s.get(Keys.SUPPRESSION_MODE).equals("off");
            // From the topic, into this worker's memory, as on the edges: nothing on port 5701 can write it.
            SuppressionList suppressions = new SuppressionList();
            // Holds and fail/delete orders, set through /admin/queue (docs/queue.md, "Queue administration").
            HazelcastQueueControls controls = new HazelcastQueueControls(hazelcast, seal, retries, s.get(Keys.MAX_LIFETIME),
                    java.time.Clock.systemUTC());
            DkimReload dkimReload = DkimReload.requester(hazelcast);
            queueAdmin = new QueueAdmin(new QueueShape(kafka, topics, tiers, DeliveryWorker.groupId(topics),
                    topics.prefix() + "mail-relay-bounce"), new MessageHistory(kafka, topics), controls, retries, dkimReload);
            DeliveryWorker.Cluster cluster = new DeliveryWorker.Cluster(
                    new HazelcastLedger(hazelcast, seal, s.get(Keys.MAX_LIFETIME).plusDays(1), timeouts(s).claimLease(),
                            copyHorizon(s.get(Keys.MAX_BACKOFF), tiers)), gate,
                    new HazelcastDestinationGuard(hazelcast, s.get(Keys.BACKOFF_FAILURES), s.get(Keys.BACKOFF_TIME),
                            s.get(Keys.ROUTE_RATE), java.time.Clock.systemUTC()), retries,
                    suppression ? suppressions : Suppressions.NONE, suppression ? suppressions : null, controls);
            DeliveryWorker.Config wc = workerConfig(s, hostname, topics, maxRecordBytes, standalone);
            // Standalone: one process per data directory and broker, so its consumer may keep its name over a
            // restart and take the queue back at once, not 45 s later when the killed one's session expires.
            parts.push(DeliveryWorker.start(standalone ? wc.withGroupInstanceId("standalone-worker") : wc, cluster, registry));
        }
        if (role == Role.STANDALONE || role == Role.EDGE) {
            HazelcastClientGuard guard = new HazelcastClientGuard(hazelcast, s.get(Keys.CONNECTION_RATE),
                    s.get(Keys.AUTH_MAX_FAILURES), s.get(Keys.AUTH_WINDOW), java.time.Clock.systemUTC());
            RecipientBlocks blocks = RecipientBlocks.NONE;
            if (s.get(Keys.SUPPRESSION_MODE).equals("reject")) {
                // From the topic, into this process's memory: an edge is a lite member and holds no Hazelcast data.
                SuppressedRecipients suppressed = new SuppressedRecipients();
                parts.push(new SuppressionFeed(kafka, topics.suppression(), new SuppressionFeed.Sink() {
                    @Override
                    public void put(SuppressionEntry entry) {
                        suppressed.put(entry);
                    }

                    @Override
                    public void remove(String key) {
                        suppressed.remove(key);
                    }
                }, "edge-" + hostname + "-suppression").start());
                blocks = suppressed;
            }
            try {
                edge = EdgeReceiver.start(edgeConfig(s, hostname, topics, standalone ? s.get(Keys.DATA_DIR) : null, dkim), guard, blocks,
                        new EdgeMetrics(registry), ready::ready);
            } catch (UsersFileException e) {
                throw new ConfigException(Keys.USERS_FILE.name(), null, e.getMessage());
            }
            parts.push(edge);
            ready.add("kafka-transactions", edge::publishing);
            if (!ready.await(Duration.ofSeconds(15))) {
                LOG.warn("not ready 15 s after the edge started ({} not yet); SMTP clients are answered 421 4.3.2 until it is",
                        ready.failing());
            }
            // queue reload-dkim: this process reads dkim.key-dir again, checks it, and only then signs with it
            // (standalone: its DSNs too, which share the keys).
            parts.push(DkimReload.signer(hazelcast, hostname + " " + role.name().toLowerCase(java.util.Locale.ROOT),
                    () -> dkimKeys(s), dkim));
        }
        if (s.get(Keys.HTTP_PORT) > 0) {
            Map<String, OpsServer.AdminHandler> admin = new LinkedHashMap<>();
            if (!s.get(Keys.SUPPRESSION_MODE).equals("off")) {
                admin.put("suppression", new SuppressionAdmin(new SuppressionTopic(kafka, topics.suppression()),
                        s.get(Keys.SUPPRESSION_TTL)));
            }
            if (queueAdmin != null) {
                admin.putAll(queueAdmin.handlers());
            }
            ops = new OpsServer(new InetSocketAddress(s.get(Keys.HTTP_BIND), s.get(Keys.HTTP_PORT)), registry, ready.cached(), s.get(Keys.ADMIN_TOKEN), admin);
            parts.push(ops);
        }
        LOG.info("mail-relay {} running as {}", role.name().toLowerCase(java.util.Locale.ROOT), hostname);
    }

    /**
     * Waits until Kafka lets this relay in. A refused login or certificate is an operator's mistake or a
     * credential not made yet (a Strimzi KafkaUser reconciled after the pod started). It is logged as
     * such; meanwhile readiness is false and an edge answers every SMTP client 421 4.3.2, and the check
     * is made again every 10 s. Without this the start would fail later, on a topic it cannot create.
     */
    private void awaitAdmission(Role role, Settings s, String hostname, PrometheusMeterRegistry registry) throws Exception {
        Optional<String> refused = refusal(s);
        if (refused.isEmpty()) {
            return;
        }
        Deque<AutoCloseable> door = new ArrayDeque<>();
        try {
            LOG.error("{}. Not ready, and SMTP clients are answered 421 4.3.2, until it does (checked every 10 s)", refused.get());
            if (role == Role.EDGE) {
                door.push(EdgeReceiver.start(edgeConfig(s, hostname, new Topics(s.get(Keys.TOPIC_PREFIX)), null, DkimKeys.none()),
                        ClientGuard.NONE, RecipientBlocks.NONE, EdgeMetrics.none(), () -> false));
            }
            if (s.get(Keys.HTTP_PORT) > 0) {
                door.push(new OpsServer(new InetSocketAddress(s.get(Keys.HTTP_BIND), s.get(Keys.HTTP_PORT)), registry,
                        Map.of("kafka", () -> false), "", Map.of()));
            }
            String last = refused.get();
            while (refused.isPresent()) {
                Thread.sleep(10_000);
                refused = refusal(s);
                if (refused.isPresent() && !refused.get().equals(last)) {
                    last = refused.get();
                    LOG.error("{}. Still not ready", last);
                }
            }
            LOG.info("Kafka at {} lets this relay in now; starting", kafka);
        } finally {
            while (!door.isEmpty()) {
                door.pop().close();
            }
        }
    }

    private Optional<String> refusal(Settings s) {
        return KafkaAccessCheck.refusal(kafka, Duration.ofSeconds(15)).map(r -> r
                + KafkaSecurity.clientCertificateTrouble(s, java.time.Instant.now()).map(t -> "; " + t).orElse(""));
    }

    private EdgeReceiver.Config edgeConfig(Settings s, String hostname, Topics topics, Path dataDir, DkimKeys dkim)
            throws IOException {
        List<EdgeReceiver.Listener> listeners = new ArrayList<>();
        if (s.get(Keys.SMTP_PORT) > 0) {
            listeners.add(new EdgeReceiver.Listener(listenerPolicy("smtp", s.get(Keys.SMTP_TLS), s.get(Keys.SMTP_AUTH), false,
                    s.get(Keys.SMTP_STRICT)),
                    new InetSocketAddress(s.get(Keys.SMTP_BIND), s.get(Keys.SMTP_PORT))));
        }
        if (s.get(Keys.SUBMISSION_PORT) > 0) {
            listeners.add(new EdgeReceiver.Listener(listenerPolicy("submission", s.get(Keys.SUBMISSION_TLS),
                    s.get(Keys.SUBMISSION_AUTH), true, s.get(Keys.SUBMISSION_STRICT)), new InetSocketAddress(s.get(Keys.SUBMISSION_BIND), s.get(Keys.SUBMISSION_PORT))));
        }
        if (s.get(Keys.SMTPS_PORT) > 0) {
            listeners.add(new EdgeReceiver.Listener(listenerPolicy("submissions", "implicit", s.get(Keys.SMTPS_AUTH), true,
                    s.get(Keys.SMTPS_STRICT)),
                    new InetSocketAddress(s.get(Keys.SMTPS_BIND), s.get(Keys.SMTPS_PORT))));
        }
        if (listeners.isEmpty()) {
            throw new ConfigException(Keys.SMTP_PORT.name(), "0", "no SMTP listener: smtp.port, submission.port and smtps.port are all 0");
        }
        Path cert = s.get(Keys.TLS_CERT).orElse(null);
        Path key = s.get(Keys.TLS_KEY).orElse(null);
        boolean needsTls = listeners.stream().anyMatch(l -> l.policy().startTlsOffered() || l.policy().implicitTls());
        if (needsTls && (cert == null || key == null)) {
            if (dataDir == null) {
                throw new ConfigException(Keys.TLS_CERT.name(), null,
                        "a listener offers TLS (smtp.tls, submission.tls or smtps.port), so tls.cert-file and tls.key-file must be set");
            }
            cert = dataDir.resolve("tls").resolve("cert.pem");
            key = dataDir.resolve("tls").resolve("key.pem");
            SelfSignedCertificate.ensure(cert, key, hostname);
        }
        return new EdgeReceiver.Config(hostname, listeners, kafka, topics, s.get(Keys.MAX_MESSAGE_SIZE),
                s.get(Keys.SMTP_MAX_RECIPIENTS), s.get(Keys.SMTP_MAX_ERRORS), s.get(Keys.MAX_RECEIVED),
                s.get(Keys.BARE_LF).equals("reject") ? BareLineFeeds.REJECT : BareLineFeeds.NORMALIZE,
                s.get(Keys.SMTP_IDLE), s.get(Keys.PUBLISH_TIMEOUT), s.get(Keys.TRUSTED_NETWORKS),
                java.util.Set.copyOf(s.get(Keys.RELAY_DOMAINS)), s.get(Keys.MAX_CONNECTIONS),
                s.get(Keys.MAX_CONNECTIONS_PER_CLIENT), cert, key, s.get(Keys.USERS_FILE).orElse(null), dkim,
                new MessageSigning.Rules(s.get(Keys.DKIM_SIGN_TRUSTED), s.get(Keys.DKIM_USER_DOMAINS)),
                // Standalone's broker is its own and only one process runs on a data directory: the same id
                // each start, so that a restart aborts what a killed predecessor left open, at once, instead
                // of holding back the queue for the coordinator's timeout. Edges of a cluster take random ones.
                dataDir == null ? null : STANDALONE_TRANSACTIONAL_ID);
    }

    static final String STANDALONE_TRANSACTIONAL_ID = "mail-relay-standalone-edge";

    /** The DKIM keys, read once at start; a bad file stops the start, named (docs/deliverability.md). */
    static DkimKeys dkimKeys(Settings s) {
        Path dir = s.get(Keys.DKIM_KEY_DIR).orElse(null);
        if (dir == null) {
            if (!s.get(Keys.DKIM_SUBDOMAINS).isEmpty()) {
                throw new ConfigException(Keys.DKIM_SUBDOMAINS.name(), String.join(",", s.get(Keys.DKIM_SUBDOMAINS)),
                        "names signing domains, but dkim.key-dir gives no keys");
            }
            return DkimKeys.none();
        }
        List<String> headers = new java.util.ArrayList<>(s.get(Keys.DKIM_HEADERS));
        if (headers.stream().noneMatch(h -> h.equalsIgnoreCase("from"))) {
            headers.add(0, "from");
        }
        DkimKeys keys;
        try {
            keys = DkimKeys.load(dir, new DkimKeys.Settings(headers, java.util.Set.of("from"), s.get(Keys.DKIM_LIFETIME)));
        } catch (DkimKeyException e) {
            throw new ConfigException(Keys.DKIM_KEY_DIR.name(), dir.toString(), e.getMessage());
        }
        try {
            return keys.withSubdomains(new java.util.HashSet<>(s.get(Keys.DKIM_SUBDOMAINS)));
        } catch (DkimKeyException e) {
            throw new ConfigException(Keys.DKIM_SUBDOMAINS.name(), String.join(",", s.get(Keys.DKIM_SUBDOMAINS)), e.getMessage());
        }
    }

    private static ListenerPolicy listenerPolicy(String name, String tls, String auth, boolean submission, boolean strictEnvelopes) {
        boolean offered = !auth.equals("off");
        return new ListenerPolicy(name, tls.equals("starttls"), tls.equals("implicit"), offered, auth.equals("required"),
                submission, strictEnvelopes);
    }

    static Timeouts timeouts(Settings s) {
        return new Timeouts(s.get(Keys.CONNECT_TIMEOUT), s.get(Keys.GREETING_TIMEOUT), s.get(Keys.COMMAND_TIMEOUT),
                s.get(Keys.DATA_INIT_TIMEOUT), s.get(Keys.DATA_BLOCK_TIMEOUT), s.get(Keys.FINAL_DOT_TIMEOUT));
    }

    /**
     * What is this relay, for the worker's loop check: the name the edges greet with, the addresses
     * they are reached at from outside, and, when the edge runs in this process, its listeners.
     */
    static Myself myself(Settings s, String hostname, boolean withEdge) {
        java.util.Set<InetSocketAddress> listeners = new java.util.HashSet<>();
        if (withEdge) {
            if (s.get(Keys.SMTP_PORT) > 0) {
                listeners.add(new InetSocketAddress(s.get(Keys.SMTP_BIND), s.get(Keys.SMTP_PORT)));
            }
            if (s.get(Keys.SUBMISSION_PORT) > 0) {
                listeners.add(new InetSocketAddress(s.get(Keys.SUBMISSION_BIND), s.get(Keys.SUBMISSION_PORT)));
            }
            if (s.get(Keys.SMTPS_PORT) > 0) {
                listeners.add(new InetSocketAddress(s.get(Keys.SMTPS_BIND), s.get(Keys.SMTPS_PORT)));
            }
        }
        return new Myself(hostname, java.util.Set.copyOf(s.get(Keys.OWN_ADDRESSES)), listeners);
    }

    private DeliveryWorker.Config workerConfig(Settings s, String hostname, Topics topics, int maxRecordBytes, boolean withEdge)
            throws IOException {
        RetrySchedule schedule = new RetrySchedule(s.get(Keys.RETRY_TIERS), s.get(Keys.MIN_BACKOFF), s.get(Keys.MAX_BACKOFF),
                s.get(Keys.MAX_LIFETIME));
        Timeouts timeouts = timeouts(s);
        Map<NextHop, Credentials> credentials = Map.of();
        if (s.get(Keys.ROUTE_AUTH_FILE).isPresent()) {
            try {
                credentials = RoutePolicies.readCredentials(s.get(Keys.ROUTE_AUTH_FILE).get());
            } catch (IOException | IllegalArgumentException e) {
                throw new ConfigException(Keys.ROUTE_AUTH_FILE.name(), null, e.getMessage());
            }
        }
        RoutePolicies policies = new RoutePolicies(s.get(Keys.DELIVERY_TLS), s.get(Keys.ROUTE_TLS), credentials);
        SmtpClient.Reuse reuse = new SmtpClient.Reuse(s.get(Keys.REUSE_MAX_TRANSACTIONS), s.get(Keys.REUSE_MAX_IDLE),
                s.get(Keys.REUSE_MAX_AGE));
        return new DeliveryWorker.Config(hostname, kafka, topics, s.get(Keys.ROUTES), policies,
                s.get(Keys.TLS_TRUST_FILE).orElse(null), reuse, s.get(Keys.SLOT_WAIT),
                s.isSet(Keys.DNS_SERVER) ? s.get(Keys.DNS_SERVER) : null, s.get(Keys.DNS_TIMEOUT), s.get(Keys.DNS_CACHE),
                s.get(Keys.MX_PORT), schedule, s.get(Keys.MAX_IN_FLIGHT), s.get(Keys.MAX_RCPT_PER_TX), timeouts, maxRecordBytes,
                s.get(Keys.SHUTDOWN_GRACE), s.get(Keys.DELAY_WARNING),
                s.get(Keys.SUPPRESSION_MODE).equals("off") ? Duration.ZERO : s.get(Keys.SUPPRESSION_TTL),
                s.get(Keys.OUTCOME_TIMEOUT), myself(s, hostname, withEdge), s.get(Keys.REBUILD_MARGIN),
                s.get(Keys.REBUILD_MAX_RECORDS), null);
    }

    /**
     * Topics that exist are left as they are, so what they really keep is checked against the settings:
     * each shortfall is a warning, or with kafka.require-replication a refusal to start.
     */
    private void checkReplication(Settings s, Topics topics, List<String> names, MeterRegistry registry) {
        List<TopicReplication.Found> found = TopicReplication.describe(kafka, names, Duration.ofSeconds(60));
        TopicReplication.register(registry, topics.prefix(), found);
        List<String> problems = new ArrayList<>();
        for (TopicReplication.Found f : found) {
            List<String> shortfalls = TopicReplication.shortfalls(f, s.get(Keys.REPLICATION), s.get(Keys.MIN_INSYNC));
            if (!shortfalls.isEmpty()) {
                problems.add("topic " + f.topic() + ": " + String.join("; ", shortfalls));
                LOG.warn("topic {}: {}; an acknowledged message may have fewer copies than configured "
                        + "(kafka.require-replication=true refuses to start)", f.topic(), String.join("; ", shortfalls));
            }
        }
        if (!problems.isEmpty() && s.get(Keys.REQUIRE_REPLICATION)) {
            throw new ConfigException(Keys.REQUIRE_REPLICATION.name(), "true", String.join("; ", problems)
                    + " (change the topics with kafka-reassign-partitions.sh and kafka-configs.sh, or the settings)");
        }
    }

    static String hostname(Settings s) {
        if (s.isSet(Keys.HOSTNAME)) {
            return s.get(Keys.HOSTNAME);
        }
        try {
            return InetAddress.getLocalHost().getCanonicalHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** The SMTP listener's address, when this process runs an edge. */
    public InetSocketAddress smtpAddress() {
        return edge == null ? null : edge.smtpAddress();
    }

    public InetSocketAddress httpAddress() {
        return ops == null ? null : ops.address();
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    @Override
    public void close() {
        while (!parts.isEmpty()) {
            AutoCloseable part = parts.pop();
            try {
                part.close();
            } catch (Exception e) {
                LOG.warn("error while stopping {}: {}", part.getClass().getSimpleName(), e.toString());
            }
        }
    }
}
