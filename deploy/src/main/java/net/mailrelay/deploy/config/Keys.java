package net.mailrelay.deploy.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.delivery.route.RoutePolicies;
import net.mailrelay.delivery.smtp.TlsPolicy;
import net.mailrelay.delivery.route.TransportTable;
import net.mailrelay.edge.policy.Cidr;

/**
 * Every configuration key of every role, with its default and one line of documentation. This list is
 * the reference; docs/configuration.md is generated from the same words.
 */
public final class Keys {

    private Keys() {
    }

    // Identity.
    public static final Key<String> HOSTNAME = new Key<>("hostname", "", s -> s,
            "Host name in the SMTP greeting, Received: headers, HELO and DSNs (Postfix myhostname); default: this machine's name.");

    // Kafka and Hazelcast.
    public static final Key<String> BOOTSTRAP_SERVERS = new Key<>("kafka.bootstrap-servers", null, s -> {
        if (s.isBlank()) {
            throw new IllegalArgumentException("must name at least one host:port");
        }
        return s;
    }, "Kafka brokers, host:port[,host:port]. Not used by standalone, which runs its own broker.");
    public static final Key<String> KAFKA_SECURITY = new Key<>("kafka.security-protocol", "PLAINTEXT",
            s -> Parsers.oneOf(s, "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
            "How every Kafka client of the role (and of the suppression command) connects: PLAINTEXT, SSL (TLS, with "
                    + "kafka.ssl.cert-file for mTLS), SASL_PLAINTEXT or SASL_SSL (docs/kafka-security.md).");
    public static final Key<String> KAFKA_SASL_MECHANISM = new Key<>("kafka.sasl.mechanism", "",
            s -> s.isEmpty() ? s : Parsers.oneOf(s, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"),
            "SASL mechanism, required with SASL_*: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (the username is then the "
                    + "OAuth client id, the password file its secret, and kafka.client.sasl.oauthbearer.token.endpoint.url the token URL).");
    public static final Key<String> KAFKA_SASL_USERNAME = new Key<>("kafka.sasl.username", "", s -> s,
            "SASL user name (or OAuth client id).");
    public static final Key<java.util.Optional<Path>> KAFKA_SASL_PASSWORD_FILE = new Key<>("kafka.sasl.password-file", "",
            Parsers::optionalPath, "File holding the SASL password (or OAuth client secret) on its first line, read at start; the "
                    + "password itself is never a key, an argument or a log line.");
    public static final Key<java.util.Optional<Path>> KAFKA_SSL_CA = new Key<>("kafka.ssl.ca-file", "", Parsers::optionalPath,
            "PEM CA certificates that sign the brokers' certificates; default: the JDK's trust store.");
    public static final Key<java.util.Optional<Path>> KAFKA_SSL_CERT = new Key<>("kafka.ssl.cert-file", "", Parsers::optionalPath,
            "PEM client certificate chain for mTLS (with kafka.ssl.key-file).");
    public static final Key<java.util.Optional<Path>> KAFKA_SSL_KEY = new Key<>("kafka.ssl.key-file", "", Parsers::optionalPath,
            "PEM private key (unencrypted PKCS#8) of kafka.ssl.cert-file.");
    public static final Key<Boolean> KAFKA_SSL_VERIFY_HOST = new Key<>("kafka.ssl.endpoint-identification", "true", Parsers::bool,
            "Check that each broker's certificate names the host it was reached at (Kafka ssl.endpoint.identification.algorithm=https).");
    public static final Key<String> TOPIC_PREFIX = new Key<>("kafka.topic-prefix", "", s -> s,
            "Prefix for every topic name, so several relays can share one Kafka cluster.");
    public static final Key<Integer> PARTITIONS = new Key<>("kafka.partitions", "12", Parsers::positive,
            "Partitions of each topic when it is created at start (more partitions allow more workers).");
    public static final Key<Integer> REPLICATION = new Key<>("kafka.replication-factor", "3", Parsers::positive,
            "Replication factor of each topic created at start (standalone: 1).");
    public static final Key<Integer> MIN_INSYNC = new Key<>("kafka.min-insync-replicas", "2", Parsers::positive,
            "min.insync.replicas of each topic created at start (standalone: 1).");
    public static final Key<Boolean> REQUIRE_REPLICATION = new Key<>("kafka.require-replication", "false", Parsers::bool,
            "Refuse to start when an existing topic has fewer replicas than kafka.replication-factor, a min.insync.replicas below "
                    + "kafka.min-insync-replicas or above its replicas, or min.insync.replicas 1 with several replicas (acks=all then "
                    + "means one copy). Without it each such topic is a warning at start; either way mailrelay_kafka_topic_replication "
                    + "and mailrelay_kafka_topic_min_insync show them.");
    public static final Key<List<String>> HAZELCAST_MEMBERS = new Key<>("hazelcast.members", "", Parsers::list,
            "Hazelcast members to join, host:port[,host:port] (TCP-IP discovery; each member listed, no ranges).");
    public static final Key<String> HAZELCAST_DISCOVERY = new Key<>("hazelcast.discovery", "tcp-ip",
            s -> Parsers.oneOf(s, "tcp-ip", "kubernetes"),
            "How Hazelcast members find each other: tcp-ip (the hazelcast.members list) or kubernetes (the pods of a service).");
    public static final Key<String> HAZELCAST_K8S_SERVICE = new Key<>("hazelcast.kubernetes.service-name", "mail-relay-hazelcast",
            s -> s, "With kubernetes discovery: the (headless) service whose pods are the members.");
    public static final Key<String> HAZELCAST_K8S_NAMESPACE = new Key<>("hazelcast.kubernetes.namespace", "", s -> s,
            "With kubernetes discovery: the namespace; default the pod's own.");
    public static final Key<Integer> HAZELCAST_PORT = new Key<>("hazelcast.port", "5701", Parsers::port,
            "Port of this process's Hazelcast member.");
    public static final Key<String> HAZELCAST_BIND = new Key<>("hazelcast.bind-address", "", s -> s,
            "Address the Hazelcast member listens on (one interface; in Kubernetes, the pod IP); empty: every interface. "
            + "Standalone always uses 127.0.0.1. The member opens no client endpoint.");
    public static final Key<java.util.Optional<Path>> HAZELCAST_SECRET_FILE = new Key<>("hazelcast.secret-file", "",
            Parsers::optionalPath, "File holding the cluster secret (at least 16 bytes; `mail-relay.jar secret generate --file F` "
                    + "makes 256 random bits) that seals the ledger's marks, delivery claims, delete and fail orders and suppressions "
                    + "in Hazelcast, so that one an outsider writes is ignored. Required by every worker, the same file in each; "
                    + "refused by edges, which hold no key; standalone makes its own.");
    public static final Key<String> HAZELCAST_CLUSTER = new Key<>("hazelcast.cluster-name", "mail-relay", s -> s,
            "Hazelcast cluster name; members with other names do not join. Edges and workers refuse the default and names "
                    + "under 16 characters: set it from a secret, or use hazelcast.cluster-name-file.");
    public static final Key<java.util.Optional<Path>> HAZELCAST_CLUSTER_FILE = new Key<>("hazelcast.cluster-name-file", "",
            Parsers::optionalPath, "File holding the Hazelcast cluster name (e.g. made by `mail-relay.jar secret generate "
                    + "--file F`), instead of hazelcast.cluster-name; the same in every edge and worker.");

    // Edge: listeners. Each listener has a port (0 turns it off), a bind address, a TLS mode and an AUTH policy.
    public static final Key<String> SMTP_BIND = new Key<>("smtp.bind-address", "0.0.0.0", s -> s,
            "Address the MX listener binds to.");
    public static final Key<Integer> SMTP_PORT = new Key<>("smtp.port", "25", Parsers::port,
            "MX listener port (standalone: 2525); 0 turns it off.");
    public static final Key<String> SMTP_TLS = new Key<>("smtp.tls", "starttls", s -> Parsers.oneOf(s, "starttls", "none"),
            "MX listener TLS: starttls (offered, RFC 3207) or none.");
    public static final Key<String> SMTP_AUTH = new Key<>("smtp.auth", "off", s -> Parsers.oneOf(s, "off", "offered", "required"),
            "MX listener AUTH (only ever inside TLS): off, offered, or required before MAIL.");
    public static final Key<Boolean> SMTP_STRICT = new Key<>("smtp.strict-envelopes", "true", Parsers::bool,
            "MX listener: MAIL FROM and RCPT TO addresses must be enclosed in <>, else 501 5.5.4 (Postfix strict_rfc821_envelopes, "
                    + "whose default is no; on port 25 only MTAs should talk, and a bare address is a mark of spamware).");
    public static final Key<String> SUBMISSION_BIND = new Key<>("submission.bind-address", "0.0.0.0", s -> s,
            "Address the submission listener binds to.");
    public static final Key<Integer> SUBMISSION_PORT = new Key<>("submission.port", "587", Parsers::port,
            "Submission listener port, RFC 6409 (standalone: 2587); 0 turns it off.");
    public static final Key<String> SUBMISSION_TLS = new Key<>("submission.tls", "starttls", s -> Parsers.oneOf(s, "starttls", "none"),
            "Submission listener TLS: starttls or none (then AUTH cannot be used).");
    public static final Key<String> SUBMISSION_AUTH = new Key<>("submission.auth", "required",
            s -> Parsers.oneOf(s, "off", "offered", "required"), "Submission listener AUTH: off, offered or required.");
    public static final Key<Boolean> SUBMISSION_STRICT = new Key<>("submission.strict-envelopes", "false", Parsers::bool,
            "Submission listener: addresses must be enclosed in <>, as smtp.strict-envelopes (off: a signed-in user's old "
                    + "client or device may send a bare one).");
    public static final Key<String> SMTPS_BIND = new Key<>("smtps.bind-address", "0.0.0.0", s -> s,
            "Address the submissions (implicit TLS) listener binds to.");
    public static final Key<Integer> SMTPS_PORT = new Key<>("smtps.port", "465", Parsers::port,
            "Submissions listener port, implicit TLS per RFC 8314 (standalone: 2465); 0 turns it off.");
    public static final Key<String> SMTPS_AUTH = new Key<>("smtps.auth", "required", s -> Parsers.oneOf(s, "off", "offered", "required"),
            "Submissions listener AUTH: off, offered or required.");
    public static final Key<Boolean> SMTPS_STRICT = new Key<>("smtps.strict-envelopes", "false", Parsers::bool,
            "Submissions listener: addresses must be enclosed in <>, as submission.strict-envelopes.");
    public static final Key<java.util.Optional<Path>> TLS_CERT = new Key<>("tls.cert-file", "", Parsers::optionalPath,
            "PEM certificate chain for the SMTP listeners (standalone generates a self-signed one when unset).");
    public static final Key<java.util.Optional<Path>> TLS_KEY = new Key<>("tls.key-file", "", Parsers::optionalPath,
            "PEM private key (unencrypted PKCS#8) for tls.cert-file.");
    public static final Key<java.util.Optional<Path>> USERS_FILE = new Key<>("auth.users-file", "", Parsers::optionalPath,
            "AUTH users file (bcrypt), managed with 'mail-relay.jar users'.");
    public static final Key<Integer> AUTH_MAX_FAILURES = new Key<>("auth.max-failures", "10", Parsers::integer,
            "Failed AUTH attempts per client address and window, across the cluster, before it gets 421; 0 = no limit.");
    public static final Key<Duration> AUTH_WINDOW = new Key<>("auth.failure-window", "15m", Parsers::positiveDuration,
            "The window auth.max-failures counts in.");

    // Edge: limits.
    public static final Key<Integer> MAX_CONNECTIONS = new Key<>("smtp.max-connections", "10000", Parsers::positive,
            "Concurrent SMTP connections one edge accepts; more get 421 4.7.0.");
    public static final Key<Integer> MAX_CONNECTIONS_PER_CLIENT = new Key<>("smtp.max-connections-per-client", "50",
            Parsers::positive, "Concurrent connections from one client address, trusted networks exempt "
                    + "(Postfix smtpd_client_connection_count_limit).");
    public static final Key<Integer> CONNECTION_RATE = new Key<>("smtp.connection-rate-limit", "0", Parsers::integer,
            "New connections per minute from one client address across all edges, trusted networks exempt; 0 = no limit "
                    + "(Postfix smtpd_client_connection_rate_limit).");
    public static final Key<Duration> SMTP_IDLE = new Key<>("smtp.idle-timeout", "300s", Parsers::positiveDuration,
            "Idle time before the server says 421 and hangs up (Postfix smtpd_timeout).");
    public static final Key<Integer> SMTP_MAX_RECIPIENTS = new Key<>("smtp.max-recipients", "1000", Parsers::positive,
            "Recipients accepted per message, at least 100 (Postfix smtpd_recipient_limit).");
    public static final Key<Integer> SMTP_MAX_ERRORS = new Key<>("smtp.max-errors", "20", Parsers::positive,
            "Errors in a session before the server hangs up (Postfix smtpd_hard_error_limit).");
    public static final Key<Integer> MAX_RECEIVED = new Key<>("smtp.max-received-headers", "50", Parsers::positive,
            "Received: headers a message may carry before it is refused as a loop, 554 5.4.6 (Postfix hopcount_limit).");
    public static final Key<String> BARE_LF = new Key<>("smtp.bare-lf", "reject", s -> Parsers.oneOf(s, "reject", "normalize"),
            "Message lines ended by a bare LF: reject (550 5.5.2, then hang up) or normalize to CRLF. "
                    + "Either way a bare LF never ends DATA.");
    public static final Key<Duration> PUBLISH_TIMEOUT = new Key<>("edge.publish-timeout", "30s", Parsers::positiveDuration,
            "How long the edge waits for a transaction's records to be acknowledged before it aborts it and answers "
                    + "451 4.3.0 (the producer's delivery.timeout.ms); before that a message may wait in the publish queue and "
                    + "for metadata, up to 7 s more; once the commit is asked for, the client waits for its outcome (docs/edge.md).");
    public static final Key<Long> MAX_MESSAGE_SIZE = new Key<>("message.max-size", "25MiB", Parsers::size,
            "Largest message accepted, advertised in SIZE (Postfix message_size_limit).");
    public static final Key<List<Cidr>> TRUSTED_NETWORKS = new Key<>("trusted-networks", "127.0.0.0/8,::1/128",
            s -> Parsers.list(s).stream().map(Cidr::parse).toList(),
            "Clients that may relay anywhere, CIDR[,CIDR] (Postfix mynetworks).");
    public static final Key<List<String>> RELAY_DOMAINS = new Key<>("relay-domains", "", Parsers::list,
            "Domains accepted from anyone, D[,D] (Postfix relay_domains).");

    // Worker.
    public static final Key<TransportTable> ROUTES = new Key<>("route", "", s -> TransportTable.parse(Parsers.list(s)),
            "Static routes DOMAIN=HOST:PORT[,...]; an explicit port or [host] skips MX lookup; * is a smarthost for all.");
    public static final Key<String> DNS_SERVER = new Key<>("dns.server", "", s -> s,
            "DNS server host:port for MX lookups; default: the system resolver.");
    public static final Key<Duration> DNS_TIMEOUT = new Key<>("dns.timeout", "10s", Parsers::positiveDuration,
            "Time to wait for a DNS answer before the lookup counts as a temporary failure (4.4.3).");
    public static final Key<Integer> DNS_CACHE = new Key<>("dns.cache-size", "10000", Parsers::integer,
            "DNS answers kept in the worker's cache, each for its TTL; 0 keeps none.");
    public static final Key<Integer> MX_PORT = new Key<>("delivery.mx-port", "25", Parsers::port,
            "TCP port of servers found by MX lookup.");
    public static final Key<TlsPolicy> DELIVERY_TLS = new Key<>("delivery.tls", "opportunistic", TlsPolicy::parse,
            "Outbound TLS: none, opportunistic (STARTTLS when offered; plaintext again after a failed handshake), "
                    + "required (no delivery without TLS), verify (TLS with a trusted certificate naming the MX host).");
    public static final Key<Map<String, TlsPolicy>> ROUTE_TLS = new Key<>("route.tls", "",
            s -> RoutePolicies.parseTls(Parsers.list(s)), "Outbound TLS policy per recipient domain, DOMAIN=POLICY[,...].");
    public static final Key<java.util.Optional<Path>> ROUTE_AUTH_FILE = new Key<>("route.auth-file", "", Parsers::optionalPath,
            "Smarthost credentials: lines of NEXTHOP USER PASSWORD, the next hop as in a route ([smtp.example]:587); "
                    + "sent only over TLS.");
    public static final Key<java.util.Optional<Path>> TLS_TRUST_FILE = new Key<>("delivery.tls-trust-file", "",
            Parsers::optionalPath, "PEM CA certificates trusted by the verify policy; default: the JDK's trust store.");
    public static final Key<Integer> DESTINATION_CONCURRENCY = new Key<>("delivery.destination-concurrency", "20",
            Parsers::positive, "Connections to one destination from the whole cluster "
                    + "(Postfix default_destination_concurrency_limit, but cluster-wide).");
    public static final Key<Map<String, Integer>> ROUTE_CONCURRENCY = new Key<>("route.concurrency", "",
            s -> Parsers.perDomain(s, true), "Per-destination connection limits, DOMAIN=N[,...] (e.g. orange.fr=2).");
    public static final Key<Map<String, Integer>> ROUTE_RATE = new Key<>("route.rate", "", s -> Parsers.perDomain(s, true),
            "Per-destination message rates per minute across the cluster, DOMAIN=N[,...] (e.g. gmail.com=600).");
    public static final Key<Duration> SLOT_WAIT = new Key<>("delivery.slot-wait", "2s", Parsers::duration,
            "How long a delivery waits for a connection slot before it is postponed to the shortest retry tier.");
    public static final Key<Integer> BACKOFF_FAILURES = new Key<>("delivery.backoff.failures", "3", Parsers::integer,
            "Connection-level failures in a row after which a destination is suspended cluster-wide; 0 = never.");
    public static final Key<Duration> BACKOFF_TIME = new Key<>("delivery.backoff.time", "5m", Parsers::positiveDuration,
            "How long a suspended destination's mail is deferred without connecting.");
    public static final Key<Integer> REUSE_MAX_TRANSACTIONS = new Key<>("delivery.reuse.max-transactions", "100",
            Parsers::positive, "Messages one outbound connection carries before it is closed.");
    public static final Key<Duration> REUSE_MAX_IDLE = new Key<>("delivery.reuse.max-idle", "5s", Parsers::duration,
            "How long an idle outbound connection is kept for the next message (0 = no reuse; "
                    + "Postfix smtp_connection_cache_time_limit).");
    public static final Key<Duration> REUSE_MAX_AGE = new Key<>("delivery.reuse.max-age", "300s", Parsers::positiveDuration,
            "Age after which an outbound connection is not reused (Postfix smtp_connection_reuse_time_limit).");
    public static final Key<Integer> MAX_IN_FLIGHT = new Key<>("delivery.max-in-flight", "100", Parsers::positive,
            "Messages a worker delivers at once (Postfix default_process_limit).");
    public static final Key<Integer> MAX_RCPT_PER_TX = new Key<>("delivery.max-recipients", "50", Parsers::positive,
            "Recipients per outbound SMTP transaction (Postfix smtp_destination_recipient_limit).");
    public static final Key<Duration> SHUTDOWN_GRACE = new Key<>("delivery.shutdown-grace", "30s", Parsers::duration,
            "On shutdown, how long in-flight deliveries may finish before they are left for another worker.");
    public static final Key<Duration> OUTCOME_TIMEOUT = new Key<>("delivery.outcome-timeout", "60s", Parsers::positiveDuration,
            "How long a delivery thread waits for an attempt's outcome records to be acknowledged before the record waits "
                    + "aside, its partition paused (the producer keeps trying; the message is never delivered again); also the "
                    + "longest pause before a record the broker refused is sent again.");
    public static final Key<Duration> REBUILD_MARGIN = new Key<>("delivery.ledger-rebuild.margin", "2m", Parsers::duration,
            "After the delivered-recipients ledger was lost (every Hazelcast member at once), how far before the oldest "
                    + "uncommitted delivery the worker starts reading mail.events to rebuild it: the clocks of the hosts may differ "
                    + "by this much.");
    public static final Key<Integer> REBUILD_MAX_RECORDS = new Key<>("delivery.ledger-rebuild.max-records", "1000000",
            Parsers::positive, "The most records a ledger rebuild reads from the worker's queue partitions, and as many from "
                    + "mail.events (the most recent); beyond that it goes ahead, logging that duplicates are possible.");
    public static final Key<List<java.net.InetAddress>> OWN_ADDRESSES = new Key<>("delivery.own-addresses", "", Parsers::addresses,
            "Addresses (IP[,IP]) at which this relay's edges are reached from outside, such as a load balancer's: an MX "
                    + "there loops back to this relay, 5.4.6 (Postfix proxy_interfaces).");
    public static final Key<Duration> CONNECT_TIMEOUT = new Key<>("delivery.timeout.connect", "30s", Parsers::positiveDuration,
            "Outbound connect timeout (smtp_connect_timeout).");
    public static final Key<Duration> GREETING_TIMEOUT = new Key<>("delivery.timeout.greeting", "300s", Parsers::positiveDuration,
            "Wait for the server greeting (smtp_helo_timeout).");
    public static final Key<Duration> COMMAND_TIMEOUT = new Key<>("delivery.timeout.command", "300s", Parsers::positiveDuration,
            "Wait for replies to EHLO, MAIL and RCPT (smtp_mail_timeout, smtp_rcpt_timeout).");
    public static final Key<Duration> DATA_INIT_TIMEOUT = new Key<>("delivery.timeout.data-init", "120s", Parsers::positiveDuration,
            "Wait for the reply to DATA (smtp_data_init_timeout).");
    public static final Key<Duration> DATA_BLOCK_TIMEOUT = new Key<>("delivery.timeout.data-block", "180s", Parsers::positiveDuration,
            "Time to send the message content (smtp_data_xfer_timeout).");
    public static final Key<Duration> FINAL_DOT_TIMEOUT = new Key<>("delivery.timeout.final-dot", "600s", Parsers::positiveDuration,
            "Wait for the reply to the end of data (smtp_data_done_timeout).");
    public static final Key<List<Duration>> RETRY_TIERS = new Key<>("queue.retry-tiers", "1m,5m,15m,30m,1h", Parsers::durations,
            "Retry tier topics (mail.retry.<tier>); a deferral waits on the longest tier not longer than its delay.");
    public static final Key<Duration> MIN_BACKOFF = new Key<>("queue.min-backoff", "5m", Parsers::positiveDuration,
            "Delay before the first retry (Postfix minimal_backoff_time); it doubles with each attempt.");
    public static final Key<Duration> MAX_BACKOFF = new Key<>("queue.max-backoff", "4000s", Parsers::positiveDuration,
            "Longest delay between attempts (Postfix maximal_backoff_time).");
    public static final Key<Duration> MAX_LIFETIME = new Key<>("queue.max-lifetime", "5d", Parsers::positiveDuration,
            "Age after which deferred mail is returned to the sender with 4.4.7 (Postfix maximal_queue_lifetime).");

    // DKIM signing (docs/deliverability.md).
    public static final Key<java.util.Optional<Path>> DKIM_KEY_DIR = new Key<>("dkim.key-dir", "", Parsers::optionalPath,
            "Folder of DKIM signing keys, DIR/<domain>/<selector>.pem (as `dkim keygen` writes them): each key signs mail "
                    + "whose From domain is <domain>; empty: no signing.");
    public static final Key<List<String>> DKIM_SUBDOMAINS = new Key<>("dkim.subdomains", "", Parsers::list,
            "Signing domains, comma-separated, whose keys also sign mail from their subdomains (From news.example.org "
                    + "signed d=example.org, which DMARC's relaxed alignment accepts); each must have a key. Empty: a key "
                    + "signs only its own domain.");
    public static final Key<Boolean> DKIM_SIGN_TRUSTED = new Key<>("dkim.sign-trusted-networks", "true", Parsers::bool,
            "Sign mail from clients in trusted-networks, as well as from authenticated users (never other clients).");
    public static final Key<Map<String, java.util.Set<String>>> DKIM_USER_DOMAINS = new Key<>("dkim.user-domains", "",
            Parsers::userDomains,
            "USER=DOMAIN[|DOMAIN...], comma-separated: the only From domains signed for that authenticated user; "
                    + "users not listed are signed for every domain that has a key.");
    public static final Key<List<String>> DKIM_HEADERS = new Key<>("dkim.headers",
            String.join(",", net.mailrelay.protocol.dkim.DkimKeys.Settings.DEFAULT_HEADERS), Parsers::list,
            "Header fields signed, every instance present; From is always signed and over-signed.");
    public static final Key<Duration> DKIM_LIFETIME = new Key<>("dkim.signature-lifetime", "0", Parsers::duration,
            "How long a signature stays valid (x=); 0 = no expiry.");

    // Notifications and suppression.
    public static final Key<Duration> DELAY_WARNING = new Key<>("dsn.delay-warning", "4h", Parsers::duration,
            "Age of a still-deferred message at which its sender gets one delay warning DSN; 0 = never "
                    + "(Postfix delay_warning_time).");
    public static final Key<Integer> BOUNCE_RETURN_SIZE = new Key<>("bounce.return-size-limit", "50000", Parsers::positive,
            "Largest original message (bytes) returned whole in a non-delivery DSN; larger ones, and RET=HDRS, "
                    + "get headers only (Postfix bounce_size_limit).");
    public static final Key<String> SUPPRESSION_MODE = new Key<>("suppression.mode", "fail",
            s -> Parsers.oneOf(s, "off", "fail", "reject"),
            "Addresses that bounced as unknown (5.1.1 and the like): off (no list), fail (the worker fails new mail "
                    + "to them at once) or reject (the edge refuses them at RCPT with 550 5.1.1).");
    public static final Key<Duration> SUPPRESSION_TTL = new Key<>("suppression.ttl", "30d", Parsers::positiveDuration,
            "How long an address stays on the suppression list after its last hard bounce.");

    // Operations.
    public static final Key<String> HTTP_BIND = new Key<>("http.bind-address", "0.0.0.0", s -> s,
            "Address of the HTTP listener (/metrics, /health/live, /health/ready).");
    public static final Key<Integer> HTTP_PORT = new Key<>("http.port", "8080", Parsers::port,
            "HTTP listener port; 0 turns it off.");
    public static final Key<String> LOG_FORMAT = new Key<>("log.format", "text", s -> Parsers.oneOf(s, "text", "json"),
            "Console log format: text (one line per event, Postfix style) or json (one JSON object per line).");
    public static final Key<String> ADMIN_TOKEN = new Key<>("admin.token", "", s -> s,
            "Bearer token for the admin API under /admin/ on the HTTP listener; empty turns the admin API off.");

    // Standalone.
    public static final Key<Path> DATA_DIR = new Key<>("data-dir", "./data", Path::of,
            "Standalone: where the embedded Kafka broker keeps its log (formatted on first start, reused after).");
    public static final Key<Integer> BROKER_PORT = new Key<>("broker.port", "19092", Parsers::port,
            "Standalone and broker: port of the embedded Kafka broker (loopback only).");
    public static final Key<String> BROKER_BIND = new Key<>("broker.bind-address", "127.0.0.1", s -> s,
            "Broker role: the address the broker and its controller listen on and advertise (standalone: always 127.0.0.1); "
                    + "another than loopback only for a broker on a host of its own, such as the partition tests' namespaces: "
                    + "it has no TLS and no authentication.");
    public static final Key<Integer> CONTROLLER_PORT = new Key<>("broker.controller-port", "19093", Parsers::port,
            "Standalone: port of the embedded broker's KRaft controller (loopback only).");
    public static final Key<Integer> BROKER_NODE_ID = new Key<>("broker.node-id", "1", Parsers::positive,
            "Broker role in a quorum: this node's id, one of broker.quorum's.");
    public static final Key<List<String>> BROKER_QUORUM = new Key<>("broker.quorum", "", Parsers::list,
            "Broker role: the KRaft controller quorum as id@host:port, comma-separated, every node both broker and controller "
                    + "(internal topics then get three replicas, two in sync); empty: a single node.");
    public static final Key<String> BROKER_CLUSTER_ID = new Key<>("broker.cluster-id", "", s -> s,
            "Broker role in a quorum: the Kafka cluster id every node is formatted with (22 characters of base64, as "
                    + "`kafka-storage.sh random-uuid` prints).");
    public static final Key<Integer> BROKER_IO_THREADS = new Key<>("broker.io-threads", "0", Parsers::nonNegative,
            "Standalone and broker: the embedded broker's request handler threads (Kafka num.io.threads); 0 = automatic: one "
                    + "per core (at least 2) for standalone, which shares the cores with the edge and the worker, Kafka's 8 for the broker role.");
    public static final Key<Integer> BROKER_NETWORK_THREADS = new Key<>("broker.network-threads", "0", Parsers::nonNegative,
            "Standalone and broker: the embedded broker's network threads (Kafka num.network.threads); 0 = automatic: one per "
                    + "two cores (at least 1) for standalone, Kafka's 3 for the broker role.");
    public static final Key<Boolean> FLUSH_EACH_MESSAGE = new Key<>("broker.flush-each-message", "true", Parsers::bool,
            "Standalone: fsync each produce batch of the topics that carry mail before acknowledging it (`flush.messages=1` on "
                    + "`mail.outbound`, the retry tiers and `mail.bounce`, and Kafka's transaction log, where an edge's commit is decided), "
                    + "as Postfix fsyncs a queue file before its 250; the event log and "
                    + "consumer offsets are not flushed (a power cut costs log lines or a repeated delivery, never mail). Broker role: "
                    + "every topic (`log.flush.interval.messages=1`).");

    /**
     * Any other Kafka client property, {@code kafka.client.<property>} (environment
     * {@code MAILRELAY_KAFKA_CLIENT_<PROPERTY>}, dots as underscores); see {@link KafkaSecurity}.
     */
    public static final String KAFKA_CLIENT_PREFIX = "kafka.client.";

    public static final List<Key<?>> ALL = List.of(HOSTNAME, BOOTSTRAP_SERVERS, KAFKA_SECURITY, KAFKA_SASL_MECHANISM,
            KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_CA, KAFKA_SSL_CERT, KAFKA_SSL_KEY, KAFKA_SSL_VERIFY_HOST, TOPIC_PREFIX, PARTITIONS, REPLICATION,
            MIN_INSYNC, REQUIRE_REPLICATION, HAZELCAST_MEMBERS, HAZELCAST_DISCOVERY, HAZELCAST_K8S_SERVICE, HAZELCAST_K8S_NAMESPACE, HAZELCAST_PORT, HAZELCAST_BIND, HAZELCAST_SECRET_FILE, HAZELCAST_CLUSTER, HAZELCAST_CLUSTER_FILE, SMTP_BIND, SMTP_PORT, SMTP_TLS, SMTP_AUTH,
            SMTP_STRICT, SUBMISSION_BIND, SUBMISSION_PORT, SUBMISSION_TLS, SUBMISSION_AUTH, SUBMISSION_STRICT, SMTPS_BIND, SMTPS_PORT,
            SMTPS_AUTH, SMTPS_STRICT, TLS_CERT,
            TLS_KEY, USERS_FILE, AUTH_MAX_FAILURES, AUTH_WINDOW, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT,
            CONNECTION_RATE, SMTP_IDLE, SMTP_MAX_RECIPIENTS, SMTP_MAX_ERRORS, MAX_RECEIVED, BARE_LF, PUBLISH_TIMEOUT, MAX_MESSAGE_SIZE, TRUSTED_NETWORKS, RELAY_DOMAINS,
            ROUTES, DNS_SERVER, DNS_TIMEOUT, DNS_CACHE, MX_PORT, DELIVERY_TLS, ROUTE_TLS, ROUTE_AUTH_FILE, TLS_TRUST_FILE,
            REUSE_MAX_TRANSACTIONS, REUSE_MAX_IDLE, REUSE_MAX_AGE, DESTINATION_CONCURRENCY, ROUTE_CONCURRENCY, ROUTE_RATE,
            SLOT_WAIT, BACKOFF_FAILURES, BACKOFF_TIME, MAX_IN_FLIGHT, MAX_RCPT_PER_TX, SHUTDOWN_GRACE, OUTCOME_TIMEOUT, REBUILD_MARGIN,
            REBUILD_MAX_RECORDS, OWN_ADDRESSES, CONNECT_TIMEOUT,
            GREETING_TIMEOUT, COMMAND_TIMEOUT, DATA_INIT_TIMEOUT, DATA_BLOCK_TIMEOUT, FINAL_DOT_TIMEOUT, RETRY_TIERS,
            MIN_BACKOFF, MAX_BACKOFF, MAX_LIFETIME, HTTP_BIND, HTTP_PORT, ADMIN_TOKEN, DATA_DIR, BROKER_PORT, BROKER_BIND, CONTROLLER_PORT,
            BROKER_NODE_ID, BROKER_QUORUM, BROKER_CLUSTER_ID, BROKER_IO_THREADS, BROKER_NETWORK_THREADS, FLUSH_EACH_MESSAGE, DKIM_KEY_DIR, DKIM_SUBDOMAINS, DKIM_SIGN_TRUSTED, DKIM_USER_DOMAINS, DKIM_HEADERS, DKIM_LIFETIME, DELAY_WARNING, SUPPRESSION_MODE, SUPPRESSION_TTL, BOUNCE_RETURN_SIZE, LOG_FORMAT);
}
