package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.RecipientLedger;
import net.mailrelay.protocol.envelope.QueueId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The delivered-recipients ledger in a Hazelcast map shared by every worker. Entries expire after the
 * retention period. If Hazelcast cannot answer, the ledger says "not delivered" and carries on: the
 * price is a possible duplicate, never a lost message.
 */
public final class HazelcastLedger implements RecipientLedger {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastLedger.class);
    public static final String MAP = "mailrelay.delivered";

    private final IMap<String, Long> delivered;
    private final Duration retention;

    public HazelcastLedger(HazelcastInstance hazelcast, Duration retention) {
        this.delivered = hazelcast.getMap(MAP);
        this.retention = retention;
    }

    @Override
    public boolean isDelivered(QueueId queueId, String recipient) {
        try {
            return delivered.containsKey(key(queueId, recipient));
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); delivering to <{}> without duplicate check", queueId, e.toString(), recipient);
            return false;
        }
    }

    @Override
    public void markDelivered(QueueId queueId, String recipient) {
        try {
            delivered.set(key(queueId, recipient), System.currentTimeMillis(), retention.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be delivered again if this message is read again", queueId,
                    e.toString(), recipient);
        }
    }

    private static String key(QueueId queueId, String recipient) {
        return queueId.value() + ' ' + recipient;
    }
}
