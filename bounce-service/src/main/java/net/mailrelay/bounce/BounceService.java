package net.mailrelay.bounce;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.util.Objects;
import net.mailrelay.bounce.dsn.DsnComposer;
import net.mailrelay.bounce.queue.BounceConsumer;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * bounce-service: the relay's notifier (Postfix's bounce daemon).
 *
 * <p>What it does: for each bounce request (permanent failures and expiries, delay warnings, success
 * reports) it composes one delivery status notification listing every reported recipient that asked
 * to hear about it (NOTIFY), with the reason for each failure or delay, and queues it to the original
 * envelope sender from the null reverse path, as ordinary outbound mail.
 * It never notifies the null sender, so a notification cannot start a loop. A request's offset is
 * committed only after its notification is acknowledged by Kafka (acks=all): a crash may send a
 * notification twice, never lose one.
 *
 * <p>Reads: {@code mail.bounce} (consumer group {@code mail-relay-bounce}). Writes: {@code mail.outbound}.
 *
 * <p>Security: it opens no port. Its input is written by our workers but carries untrusted text (the
 * original message, remote servers' replies, ENVID and ORCPT): that text never reaches a header field
 * unsanitized. A failure notice returns the whole original only when RET allows it and it is no larger
 * than the return size limit; every other notice returns at most that many bytes of its headers.
 *
 * <p>RFCs: 3461 (NOTIFY, RET, ORCPT, ENVID), 3464 (delivery status notifications), 3462 and 6522
 * (multipart/report), 6533 (global delivery status for SMTPUTF8 mail), 3834 (Auto-Submitted), 5321
 * section 4.5.5 (null reverse path), 5322 (format).
 *
 * <p>Configuration keys: {@code hostname}, {@code kafka.bootstrap-servers} (and {@code kafka.security-protocol}, {@code kafka.sasl.*}, {@code kafka.ssl.*}, {@code kafka.client.*}: docs/kafka-security.md), {@code kafka.topic-prefix},
 * {@code message.max-size} (docs/configuration.md); the return size limit (Postfix's bounce_size_limit).
 */
public final class BounceService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BounceService.class);

    /**
     * Everything the bounce service needs to start.
     *
     * @param hostname names this host in notifications (From: MAILER-DAEMON@hostname, Message-ID)
     * @param maxRecordBytes the largest record on the relay's topics, {@code RecordCodec.maxRecordBytes(message.max-size)}
     * @param returnSizeLimit bytes: the largest original a failure notice returns whole (else its headers),
     *     and the most header bytes a notice returns (Postfix's bounce_size_limit)
     */
    public record Config(String hostname, KafkaAccess kafka, Topics topics, int maxRecordBytes,
            int returnSizeLimit, DkimKeys dkimKeys, String groupInstanceId) {

        /** Postfix's bounce_size_limit default. */
        public static final int DEFAULT_RETURN_SIZE_LIMIT = 50_000;

        public Config {
            Objects.requireNonNull(hostname, "hostname");
            if (hostname.isBlank() || !hostname.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '@')) {
                throw new IllegalArgumentException("hostname must be a host name, not '" + hostname + "'");
            }
            Objects.requireNonNull(kafka, "kafka");
            Objects.requireNonNull(topics, "topics");
            if (maxRecordBytes <= 0) {
                throw new IllegalArgumentException("maxRecordBytes (from message.max-size) must be > 0, not " + maxRecordBytes);
            }
            if (returnSizeLimit <= 0) {
                throw new IllegalArgumentException("returnSizeLimit must be > 0 bytes, not " + returnSizeLimit);
            }
            Objects.requireNonNull(dkimKeys, "dkimKeys");
        }

        /** A member of the consumer group with no name of its own (every process but standalone). */
        public Config(String hostname, KafkaAccess kafka, Topics topics, int maxRecordBytes, int returnSizeLimit,
                DkimKeys dkimKeys) {
            this(hostname, kafka, topics, maxRecordBytes, returnSizeLimit, dkimKeys, null);
        }

        /**
         * With a static membership of the consumer group ({@code group.instance.id}), so that a restart
         * takes the bounce requests back at once instead of after the dead member's session timeout; only
         * where no other process can run under the same name (standalone).
         */
        public Config withGroupInstanceId(String id) {
            return new Config(hostname, kafka, topics, maxRecordBytes, returnSizeLimit, dkimKeys, id);
        }

        /** Without DKIM keys: notices go unsigned. */
        public Config(String hostname, KafkaAccess kafka, Topics topics, int maxRecordBytes, int returnSizeLimit) {
            this(hostname, kafka, topics, maxRecordBytes, returnSizeLimit, DkimKeys.none());
        }

        /** With the default return size limit. */
        public Config(String hostname, KafkaAccess kafka, Topics topics, int maxRecordBytes) {
            this(hostname, kafka, topics, maxRecordBytes, DEFAULT_RETURN_SIZE_LIMIT, DkimKeys.none());
        }
    }

    private final BounceConsumer consumer;

    private BounceService(Config config, Clock clock, MeterRegistry registry) {
        consumer = new BounceConsumer(config.kafka(), config.topics(), config.maxRecordBytes(),
                config.hostname(), config.groupInstanceId(), new DsnComposer(config.hostname(), clock, config.returnSizeLimit(),
                        () -> config.dkimKeys().forDomainOrParent(config.hostname())), clock, registry);
        consumer.start();
        LOG.info("bounce service reading {}, queueing notifications on {}", config.topics().bounce(),
                config.topics().outbound());
    }

    public static BounceService start(Config config) {
        return start(config, Clock.systemUTC());
    }

    public static BounceService start(Config config, Clock clock) {
        return new BounceService(config, clock, new SimpleMeterRegistry());
    }

    /** @param registry where the service counts (docs/metrics.md) */
    public static BounceService start(Config config, MeterRegistry registry) {
        return new BounceService(config, Clock.systemUTC(), registry);
    }

    @Override
    public void close() {
        consumer.close();
    }
}
