package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.RecipientLedger;
import net.mailrelay.protocol.envelope.QueueId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The delivered-recipients ledger and the delivery claims, in Hazelcast maps shared by every worker.
 * A claim is a {@code putIfAbsent} with a time to live (a lease): it stops two workers delivering the
 * same recipient at once after a rebalance, and lapses by itself if its worker dies. Delivered entries
 * are kept longer than a message can live. If Hazelcast cannot answer, both say "go ahead": the price
 * is a possible duplicate, never a lost message.
 */
public final class HazelcastLedger implements RecipientLedger {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastLedger.class);
    public static final String DELIVERED = "mailrelay.delivered";
    public static final String CLAIMS = "mailrelay.claims";

    private final IMap<String, Long> delivered;
    private final IMap<String, String> claims;
    private final Duration retention;
    private final Duration claimLease;
    private final String owner = UUID.randomUUID().toString();

    /**
     * @param retention how long a delivered recipient is remembered (longer than the queue lifetime)
     * @param claimLease how long a claim outlives a worker that died holding it (longer than one attempt)
     */
    public HazelcastLedger(HazelcastInstance hazelcast, Duration retention, Duration claimLease) {
        this.delivered = hazelcast.getMap(DELIVERED);
        this.claims = hazelcast.getMap(CLAIMS);
        this.retention = retention;
        this.claimLease = claimLease;
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

    @Override
    public boolean claim(QueueId queueId, String recipient) {
        try {
            String holder = claims.putIfAbsent(key(queueId, recipient), owner, claimLease.toMillis(), TimeUnit.MILLISECONDS);
            return holder == null || holder.equals(owner);
        } catch (RuntimeException e) {
            LOG.warn("{}: claims unavailable ({}); delivering to <{}> unclaimed", queueId, e.toString(), recipient);
            return true;
        }
    }

    @Override
    public void release(QueueId queueId, String recipient) {
        try {
            claims.remove(key(queueId, recipient), owner);
        } catch (RuntimeException e) {
            // The lease runs out by itself.
        }
    }

    private static String key(QueueId queueId, String recipient) {
        return queueId.value() + ' ' + recipient;
    }
}
