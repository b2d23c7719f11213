package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.RecipientLedger;
import net.mailrelay.protocol.envelope.QueueId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The settled-recipients ledger (delivered or bounced) and the delivery claims, in Hazelcast maps shared by every worker.
 * A claim is a {@code putIfAbsent} of "member-uuid/token" with a time to live (a lease): it stops two
 * deliveries of the same recipient at once after a rebalance, whether on two workers or two threads of
 * one. A claim whose member has left the cluster (its worker died) is taken over at once; the lease is
 * only the backstop for a member that is still listed but no longer working. A settled entry is
 * deleted once the offset of its record is committed (the record cannot be read again); the long time
 * to live is the backstop for a worker that dies before it forgets. If Hazelcast cannot answer, both say "go ahead": the
 * price is a possible duplicate, never a lost message.
 *
 * <p>A third map marks the queue partitions the ledger covers: rebuilt from {@code mail.events} after
 * the ledger was lost, or found with nothing to rebuild. It lives and dies with the ledger, so a new
 * cluster (every member lost at once) has no marks and every worker rebuilds before it delivers. When
 * Hazelcast reports a partition of the ledger lost (a member and its backups gone together), every mark
 * is dropped, for the same reason.
 */
public final class HazelcastLedger implements RecipientLedger {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastLedger.class);
    public static final String DELIVERED = "mailrelay.delivered";
    public static final String CLAIMS = "mailrelay.claims";
    public static final String COVERAGE = "mailrelay.ledger.coverage";
    /** Entries per cluster call when restoring. */
    private static final int RESTORE_BATCH = 1_000;

    private final HazelcastInstance hazelcast;
    private final IMap<String, Long> delivered;
    private final IMap<String, String> claims;
    private final IMap<String, Long> coverage;
    private final Duration retention;
    private final Duration claimLease;
    private final Duration copyHorizon;

    /**
     * @param retention how long a delivered recipient is remembered (longer than the queue lifetime)
     * @param claimLease how long a claim outlives a worker that died holding it: at least twice the
     *     longest session ({@code Timeouts.claimLease}), as a delivery renews its claims only once a
     *     session limit has passed
     */
    public HazelcastLedger(HazelcastInstance hazelcast, Duration retention, Duration claimLease) {
        this(hazelcast, retention, claimLease, retention);
    }

    /**
     * @param copyHorizon how long an entry is kept for a queued retry copy of its recipient: longer than
     *     the longest wait of a copy in the retry tiers (the maximal backoff or the longest tier), plus lag
     */
    public HazelcastLedger(HazelcastInstance hazelcast, Duration retention, Duration claimLease, Duration copyHorizon) {
        this.hazelcast = hazelcast;
        this.delivered = hazelcast.getMap(DELIVERED);
        this.claims = hazelcast.getMap(CLAIMS);
        this.coverage = hazelcast.getMap(COVERAGE);
        this.retention = retention;
        this.claimLease = claimLease;
        this.copyHorizon = copyHorizon;
        delivered.addPartitionLostListener(event -> {
            LOG.warn("ledger: Hazelcast lost partition {} of {} with its backups; every worker rebuilds its partitions "
                    + "from the delivery log", event.getPartitionId(), DELIVERED);
            coverage.clear();
        });
    }

    @Override
    public int restore(Collection<Entry> entries) {
        // A recipient both delivered and bounced (one copy each, around a rebalance) is restored as delivered.
        Map<String, Entry> byKey = new java.util.LinkedHashMap<>();
        entries.forEach(e -> byKey.merge(key(e.queueId(), e.recipient()), e,
                (a, b) -> a.settled() == Settled.DELIVERED ? a : b));
        for (Settled kind : List.of(Settled.DELIVERED, Settled.BOUNCED)) {
            List<String> keys = byKey.entrySet().stream().filter(e -> e.getValue().settled() == kind).map(Map.Entry::getKey)
                    .toList();
            Flag flag = new Flag(kind == Settled.DELIVERED ? DELIVERED_FLAG : BOUNCED_FLAG, copyHorizon.toMillis());
            for (int i = 0; i < keys.size(); i += RESTORE_BATCH) {
                // One call per batch, run on the members that own the keys.
                delivered.executeOnKeys(new HashSet<>(keys.subList(i, Math.min(keys.size(), i + RESTORE_BATCH))), flag);
            }
        }
        return byKey.size();
    }

    @Override
    public Set<String> uncovered(Collection<String> partitions) {
        try {
            Set<String> marked = coverage.getAll(new HashSet<>(partitions)).keySet();
            return partitions.stream().filter(p -> !marked.contains(p)).collect(Collectors.toCollection(LinkedHashSet::new));
        } catch (RuntimeException e) {
            LOG.warn("ledger unavailable ({}); cannot tell whether it must be rebuilt", e.toString());
            return Set.of();
        }
    }

    @Override
    public void covered(Collection<String> partitions) {
        long now = System.currentTimeMillis();
        coverage.putAll(partitions.stream().collect(Collectors.toMap(p -> p, p -> now, (a, b) -> a)));
    }

    @Override
    public boolean isDelivered(QueueId queueId, String recipient) {
        return settled(queueId, recipient) == Settled.DELIVERED;
    }

    // An entry's value: the time it was set, shifted left by 3, with these flags in the low bits.
    static final long DELIVERED_FLAG = 1;
    static final long BOUNCED_FLAG = 2;
    /** Another queued copy of this recipient exists (a retry copy, or a second reading's): the entry outlives a forget. */
    static final long KEEP_FLAG = 4;

    @Override
    public Settled settled(QueueId queueId, String recipient) {
        try {
            Long v = delivered.get(key(queueId, recipient));
            return v == null ? Settled.NO : (v & DELIVERED_FLAG) != 0 ? Settled.DELIVERED
                    : (v & BOUNCED_FLAG) != 0 ? Settled.BOUNCED : Settled.NO;
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); delivering to <{}> without duplicate check", queueId, e.toString(), recipient);
            return Settled.NO;
        }
    }

    @Override
    public void markBounced(QueueId queueId, String recipient) {
        try {
            delivered.executeOnKey(key(queueId, recipient), new Flag(BOUNCED_FLAG, retention.toMillis()));
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be bounced again if this message is read again", queueId,
                    e.toString(), recipient);
        }
    }

    @Override
    public void markDelivered(QueueId queueId, String recipient) {
        try {
            delivered.executeOnKey(key(queueId, recipient), new Flag(DELIVERED_FLAG, retention.toMillis()));
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be delivered again if this message is read again", queueId,
                    e.toString(), recipient);
        }
    }

    @Override
    public void keepCopies(QueueId queueId, String recipient) {
        try {
            delivered.executeOnKey(key(queueId, recipient), new Flag(KEEP_FLAG, copyHorizon.toMillis()));
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be delivered twice", queueId, e.toString(), recipient);
        }
    }

    /**
     * Deletes the entry, the cheap case (Hazelcast's expiry costs far more than a delete: a one-minute
     * grace on every forget cost a quarter of the delivery rate). An entry with another queued copy of
     * its recipient lives on for the copy horizon instead.
     */
    @Override
    public void forget(QueueId queueId, String recipient) {
        try {
            delivered.executeOnKey(key(queueId, recipient), new Forget(copyHorizon.toMillis()));
        } catch (RuntimeException e) {
            // The time to live removes it.
        }
    }

    /** Adds a flag to an entry (creating it), keeping the flags it has; runs where the entry lives. */
    private record Flag(long flag, long ttlMillis) implements EntryProcessor<String, Long, Void> {
        @Override
        public Void process(Map.Entry<String, Long> entry) {
            Long v = entry.getValue();
            long flags = v == null ? 0 : v & (DELIVERED_FLAG | BOUNCED_FLAG | KEEP_FLAG);
            ((ExtendedMapEntry<String, Long>) entry).setValue((System.currentTimeMillis() << 3) | flags | flag,
                    ttlMillis, TimeUnit.MILLISECONDS);
            return null;
        }
    }

    /** Deletes an entry, or, when another copy of its recipient is queued, shortens its life to the copy horizon. */
    private record Forget(long keepMillis) implements EntryProcessor<String, Long, Void> {
        @Override
        public Void process(Map.Entry<String, Long> entry) {
            Long v = entry.getValue();
            if (v == null) {
                return null;
            }
            if ((v & KEEP_FLAG) == 0) {
                entry.setValue(null);
            } else {
                ((ExtendedMapEntry<String, Long>) entry).setValue(v, keepMillis, TimeUnit.MILLISECONDS);
            }
            return null;
        }
    }

    @Override
    public String claim(QueueId queueId, String recipient) {
        String key = key(queueId, recipient);
        String token = null;
        try {
            token = hazelcast.getCluster().getLocalMember().getUuid() + "/" + UUID.randomUUID();
            String holder = claims.putIfAbsent(key, token, claimLease.toMillis(), TimeUnit.MILLISECONDS);
            // Our own token: Hazelcast retried the put after a member left and found its first try applied.
            // Taking that for another worker's claim held the recipient back for the whole lease.
            if (holder == null || holder.equals(token)) {
                return token;
            }
            if (memberPresent(holder) || !claims.replace(key, holder, token)) {
                return null;
            }
            claims.setTtl(key, claimLease.toMillis(), TimeUnit.MILLISECONDS);
            LOG.info("{}: to=<{}>: took over the delivery claim of a worker that left the cluster", queueId, recipient);
            return token;
        } catch (RuntimeException e) {
            LOG.warn("{}: claims unavailable ({}); delivering to <{}> unclaimed", queueId, e.toString(), recipient);
            // The put may have been applied before the failure: releasing this token then removes it.
            return token == null ? "unclaimed" : token;
        }
    }

    private boolean memberPresent(String holder) {
        int slash = holder.indexOf('/');
        String member = slash < 0 ? holder : holder.substring(0, slash);
        return hazelcast.getCluster().getMembers().stream().anyMatch(m -> m.getUuid().toString().equals(member));
    }

    @Override
    public boolean renew(QueueId queueId, String recipient, String token) {
        try {
            return Boolean.TRUE.equals(claims.executeOnKey(key(queueId, recipient), new Renew(token, claimLease.toMillis())));
        } catch (RuntimeException e) {
            return true; // cannot tell; the lease is the backstop either way
        }
    }

    /** Sets a claim's time to live again, if it still holds this token; runs where the entry lives. */
    private record Renew(String token, long leaseMillis) implements EntryProcessor<String, String, Boolean> {
        @Override
        public Boolean process(Map.Entry<String, String> entry) {
            if (!token.equals(entry.getValue())) {
                return false;
            }
            ((ExtendedMapEntry<String, String>) entry).setValue(token, leaseMillis, TimeUnit.MILLISECONDS);
            return true;
        }
    }

    @Override
    public void release(QueueId queueId, String recipient, String token) {
        try {
            claims.remove(key(queueId, recipient), token);
        } catch (RuntimeException e) {
            // The lease runs out by itself.
        }
    }

    private static String key(QueueId queueId, String recipient) {
        return queueId.value() + ' ' + recipient;
    }
}
