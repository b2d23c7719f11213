package net.mailrelay.protocol.record;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * How every Kafka client of a process reaches the brokers: where they are, and the client properties
 * that secure the connection (security.protocol, SASL, TLS) or that an operator passed through. Each
 * producer, consumer and admin client starts from {@link #config()} and adds its own settings, so that
 * no client of the relay can be left on a plaintext connection to a secured cluster.
 *
 * <p>{@link #toString()} names the brokers and the security protocol only: the properties may hold a
 * password (sasl.jaas.config) or a private key (ssl.keystore.key).
 *
 * @param bootstrapServers host:port[,host:port]
 * @param properties client properties besides bootstrap.servers; none of {@link #GUARDED}
 */
public record KafkaAccess(String bootstrapServers, Map<String, String> properties) {

    /**
     * What the relay's guarantees rest on, set by the relay itself and never taken from an operator:
     * acks=all and idempotence for "250 only after Kafka has it", manual commits for "nothing is
     * skipped", the isolation level and group ids the consumers are built around, the serializers the
     * record format needs.
     */
    public static final Set<String> GUARDED = Set.of("acks", "enable.idempotence", "enable.auto.commit", "isolation.level",
            "bootstrap.servers", "key.serializer", "value.serializer", "key.deserializer", "value.deserializer",
            "group.id", "transactional.id", "auto.offset.reset", "delivery.timeout.ms", "max.block.ms", "max.request.size",
            "request.timeout.ms", "max.in.flight.requests.per.connection", "retries", "max.poll.interval.ms",
            "interceptor.classes", "transaction.timeout.ms", "allow.auto.create.topics");

    public KafkaAccess {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        if (bootstrapServers.isBlank()) {
            throw new IllegalArgumentException("the Kafka bootstrap servers must name at least one host:port");
        }
        properties = Map.copyOf(properties);
        for (String k : properties.keySet()) {
            if (GUARDED.contains(k)) {
                throw new IllegalArgumentException("the Kafka client property " + k + " is set by the relay itself");
            }
        }
    }

    /** A broker without TLS or authentication (standalone's own, tests). */
    public static KafkaAccess plaintext(String bootstrapServers) {
        return new KafkaAccess(bootstrapServers, Map.of());
    }

    /** A fresh, mutable client configuration: the brokers and the access properties, for a client to add to. */
    public Map<String, Object> config() {
        return config(Map.of());
    }

    /**
     * The client's own {@code settings} with the access properties over them: an operator's pass-through
     * property is meant to change what the relay would set (linger.ms, say); the ones the relay cannot
     * let go of are {@link #GUARDED} and never get here.
     */
    public Map<String, Object> config(Map<String, ?> settings) {
        Map<String, Object> c = new TreeMap<>(settings);
        c.putAll(properties);
        c.put("bootstrap.servers", bootstrapServers);
        return c;
    }

    /**
     * A producer of records that must be neither lost nor doubled (acks=all, idempotence), taking records
     * up to {@code maxRecordBytes} and buffering at least two of them, with the client's {@code own}
     * settings over these (its linger, timeouts, transactions) and the access properties over all.
     * Every producer of the relay starts here.
     */
    public Map<String, Object> producer(String clientId, int maxRecordBytes, Map<String, ?> own) {
        Map<String, Object> c = new HashMap<>();
        if (clientId != null) {
            c.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        }
        c.put(ProducerConfig.ACKS_CONFIG, "all");
        c.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRecordBytes);
        c.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Math.max(64L << 20, 2L * maxRecordBytes));
        c.putAll(own);
        return config(c);
    }

    /**
     * A consumer of the relay's topics: offsets committed by the relay alone (never automatically), a
     * new group starting from the earliest record, committed records only (the edges publish in
     * transactions, and an aborted record was answered 451), and fetches that take the largest record
     * the relay allows. The client's {@code own} settings (group, batch size) go over these. Every
     * consumer of the relay starts here.
     */
    public Map<String, Object> consumer(String clientId, int maxRecordBytes, Map<String, ?> own) {
        Map<String, Object> c = new HashMap<>();
        if (clientId != null) {
            c.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        }
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Math.max(1 << 20, maxRecordBytes));
        c.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Math.max(ConsumerConfig.DEFAULT_FETCH_MAX_BYTES, maxRecordBytes));
        c.putAll(own);
        return config(c);
    }

    public String securityProtocol() {
        return properties.getOrDefault("security.protocol", "PLAINTEXT");
    }

    @Override
    public String toString() {
        return bootstrapServers + " (" + securityProtocol() + ")";
    }
}
