package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import net.mailrelay.delivery.ledger.RecipientLedger;
import net.mailrelay.protocol.cluster.Seal;
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
 *
 * <p>Security: whoever reaches a member with the cluster name can write these maps (the community
 * edition has no member authentication). A settled mark and a claim are therefore {@link Seal sealed}
 * with the cluster secret, and one that does not open is read as absent: a forged "delivered" mark
 * cannot make a worker skip a recipient, and a forged claim is taken over. Forging a coverage mark or
 * deleting entries can cost duplicates, never mail.
 */
public final class HazelcastLedger implements RecipientLedger {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastLedger.class);
    public static final String DELIVERED = "mailrelay.delivered";
    public static final String CLAIMS = "mailrelay.claims";
    public static final String COVERAGE = "mailrelay.ledger.coverage";
    /** Entries per cluster call when restoring. */
    private static final int RESTORE_BATCH = 1_000;

    private final HazelcastInstance hazelcast;
    private final IMap<String, String> delivered;
    private final IMap<String, String> claims;
    private final Seal seal;
    private final IMap<String, Long> coverage;
    private final Duration retention;
    private final Duration claimLease;
    private final Duration copyHorizon;
    /** The claim identities this worker's deliveries hold now. */
    private final Set<String> holding = ConcurrentHashMap.newKeySet();

    /**
     * @param seal the cluster secret's seal, the same in every worker
     * @param retention how long a delivered recipient is remembered (longer than the queue lifetime)
     * @param claimLease how long a claim outlives a worker that died holding it: at least twice the
     *     longest session ({@code Timeouts.claimLease}), as a delivery renews its claims only once a
     *     session limit has passed
     */
    public HazelcastLedger(HazelcastInstance hazelcast, Seal seal, Duration retention, Duration claimLease) {
        this(hazelcast, seal, retention, claimLease, retention);
    }

    /**
     * @param copyHorizon how long an entry is kept for a queued retry copy of its recipient: longer than
     *     the longest wait of a copy in the retry tiers (the maximal backoff or the longest tier), plus lag
     */
    public HazelcastLedger(HazelcastInstance hazelcast, Seal seal, Duration retention, Duration claimLease, Duration copyHorizon) {
        this.hazelcast = hazelcast;
        this.seal = seal;
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
        long now = System.currentTimeMillis();
        for (Settled kind : List.of(Settled.DELIVERED, Settled.BOUNCED)) {
            List<String> keys = byKey.entrySet().stream().filter(e -> e.getValue().settled() == kind).map(Map.Entry::getKey)
                    .toList();
            char letter = kind == Settled.DELIVERED ? DELIVERED_MARK : BOUNCED_MARK;
            for (int i = 0; i < keys.size(); i += RESTORE_BATCH) {
                // One call per batch, run on the members that own the keys, each key with its own seal.
                Map<String, String> marks = new java.util.HashMap<>();
                keys.subList(i, Math.min(keys.size(), i + RESTORE_BATCH)).forEach(k -> marks.put(k, mark(k, letter, now,
                        copyHorizon.toMillis())));
                delivered.executeOnKeys(marks.keySet(), new Marks(marks, copyHorizon.toMillis()));
            }
        }
        return byKey.size();
    }

    /**
     * Fails closed: when Hazelcast cannot say, the exception goes to the caller, whose partitions then wait
     * and are asked about again (Coverage). Taking them as covered (issue 29) let a partition assigned
     * while Hazelcast was unreachable be delivered from without its rebuild, and deliver again what the
     * lost ledger had known.
     */
    @Override
    public Set<String> uncovered(Collection<String> partitions) {
        Set<String> marked = coverage.getAll(new HashSet<>(partitions)).keySet();
        return partitions.stream().filter(p -> !marked.contains(p)).collect(Collectors.toCollection(LinkedHashSet::new));
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

    // An entry's value: its marks, separated by spaces, each a letter and the time it was set, sealed.
    static final char DELIVERED_MARK = 'D';
    static final char BOUNCED_MARK = 'B';
    /** Another queued copy of this recipient exists (a retry copy, or a second reading's): the entry outlives a forget. */
    static final char KEEP_MARK = 'K';
    private static final String MARKS = "DBK";

    /** A mark that opens as long as Hazelcast keeps it ({@code ttlMillis}): written back later, it is absent. */
    private String mark(String key, char letter, long now, long ttlMillis) {
        return seal.seal(DELIVERED, key, letter + Long.toString(now), now + ttlMillis);
    }

    @Override
    public Settled settled(QueueId queueId, String recipient) {
        String key = key(queueId, recipient);
        Object v;
        try {
            v = delivered.get(key);
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); delivering to <{}> without duplicate check", queueId, e.toString(), recipient);
            return Settled.NO;
        }
        if (v == null) {
            return Settled.NO;
        }
        boolean bounced = false;
        boolean forged = false;
        long now = System.currentTimeMillis();
        for (String token : String.valueOf(v).split(" ")) {
            String payload = seal.open(DELIVERED, key, token, now);
            if (payload == null) {
                forged |= !token.isEmpty();
            } else if (payload.charAt(0) == DELIVERED_MARK) {
                return Settled.DELIVERED;
            } else if (payload.charAt(0) == BOUNCED_MARK) {
                bounced = true;
            }
        }
        if (forged) {
            LOG.warn("{}: to=<{}>: the ledger holds a mark this cluster did not sign; it is ignored (who else can reach "
                    + "Hazelcast? docs/queue.md)", queueId, recipient);
        }
        return bounced ? Settled.BOUNCED : Settled.NO;
    }

    @Override
    public void markBounced(QueueId queueId, String recipient) {
        try {
            String key = key(queueId, recipient);
            put(key, BOUNCED_MARK, retention);
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be bounced again if this message is read again", queueId,
                    e.toString(), recipient);
        }
    }

    @Override
    public void markDelivered(QueueId queueId, String recipient) {
        try {
            String key = key(queueId, recipient);
            put(key, DELIVERED_MARK, retention);
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be delivered again if this message is read again", queueId,
                    e.toString(), recipient);
        }
    }

    @Override
    public void keepCopies(QueueId queueId, String recipient) {
        try {
            String key = key(queueId, recipient);
            put(key, KEEP_MARK, copyHorizon);
        } catch (RuntimeException e) {
            LOG.warn("{}: ledger unavailable ({}); <{}> may be delivered twice", queueId, e.toString(), recipient);
        }
    }

    private void put(String key, char letter, Duration ttl) {
        delivered.executeOnKey(key, new Mark(mark(key, letter, System.currentTimeMillis(), ttl.toMillis()), ttl.toMillis()));
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

    /**
     * An entry's marks with {@code token} in place of any other of its letter (creating the entry). Runs
     * where the entry lives, without the secret: it keeps one token per known letter and drops anything
     * else, so a forger cannot make the value grow; the reader checks each token's seal.
     */
    static String merge(Object old, String token) {
        Map<Character, String> byLetter = new java.util.TreeMap<>();
        if (old instanceof String s) {
            for (String t : s.split(" ")) {
                if (!t.isEmpty() && MARKS.indexOf(t.charAt(0)) >= 0) {
                    byLetter.putIfAbsent(t.charAt(0), t);
                }
            }
        }
        byLetter.put(token.charAt(0), token);
        return String.join(" ", byLetter.values());
    }

    /** Both values' marks, one per kind (the first value's where both have one): a split brain's heal, {@link LedgerMergePolicy}. */
    static Object union(Object first, Object second) {
        String out = first instanceof String s ? s : null;
        if (second instanceof String s) {
            for (String t : s.split(" ")) {
                if (!t.isEmpty() && MARKS.indexOf(t.charAt(0)) >= 0 && (out == null || !hasMark(out, t.charAt(0)))) {
                    out = merge(out, t);
                }
            }
        }
        return out == null ? first : out; // neither a ledger value: the existing one stays, as put-if-absent would
    }

    private static boolean hasMark(String value, char letter) {
        return java.util.Arrays.stream(value.split(" ")).anyMatch(t -> !t.isEmpty() && t.charAt(0) == letter);
    }

    /** Adds one sealed mark to an entry; runs where the entry lives. */
    private record Mark(String token, long ttlMillis) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            ((ExtendedMapEntry<String, String>) entry).setValue(merge(entry.getValue(), token), ttlMillis, TimeUnit.MILLISECONDS);
            return null;
        }
    }

    /** Adds each key's own sealed mark (a restore); runs on the members that own the keys. */
    private record Marks(Map<String, String> tokens, long ttlMillis) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            String token = tokens.get(entry.getKey());
            if (token != null) {
                ((ExtendedMapEntry<String, String>) entry).setValue(merge(entry.getValue(), token), ttlMillis,
                        TimeUnit.MILLISECONDS);
            }
            return null;
        }
    }

    /** Deletes an entry, or, when another copy of its recipient is queued, shortens its life to the copy horizon. */
    private record Forget(long keepMillis) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            Object v = entry.getValue();
            if (v == null) {
                return null;
            }
            // Unchecked (the secret is not here): a forged keep mark only makes the entry live longer.
            if (!(v instanceof String s) || !hasMark(s, KEEP_MARK)) {
                entry.setValue(null);
            } else {
                ((ExtendedMapEntry<String, String>) entry).setValue(s, keepMillis, TimeUnit.MILLISECONDS);
            }
            return null;
        }
    }

    /**
     * A claim's value is the sealed identity {@code memberUuid/random}, opening until its lease ends; the
     * token a delivery holds is the identity alone, so that a renewal can seal it again with a later
     * expiry. A claim that opens holds the recipient back only while its member is in the cluster and,
     * when that member is this one, while this ledger still holds it: a claim of ours copied by someone
     * and written back after we released it would otherwise hold our own retry back until its expiry.
     */
    @Override
    public String claim(QueueId queueId, String recipient) {
        String key = key(queueId, recipient);
        String id = null;
        try {
            String me = hazelcast.getCluster().getLocalMember().getUuid().toString();
            id = me + "/" + UUID.randomUUID();
            long now = System.currentTimeMillis();
            String value = seal.seal(CLAIMS, key, id, now + claimLease.toMillis());
            String holder = claims.putIfAbsent(key, value, claimLease.toMillis(), TimeUnit.MILLISECONDS);
            // Our own value: Hazelcast retried the put after a member left and found its first try applied.
            // Taking that for another worker's claim held the recipient back for the whole lease.
            if (holder == null || holder.equals(value)) {
                holding.add(id);
                return id;
            }
            String held = seal.open(CLAIMS, key, holder, now);
            String member = held == null ? null : memberOf(held);
            boolean live = held != null && (member.equals(me) ? holding.contains(held) : memberPresent(member));
            if (live) {
                LOG.info("{}: to=<{}>: held back by the delivery claim of {} (member {}), which runs until {} at the latest",
                        queueId, recipient, member.equals(me) ? "another delivery on this worker" : "another worker", member,
                        Instant.ofEpochMilli(expiryOf(holder)));
                return null;
            }
            if (!claims.replace(key, holder, value)) {
                LOG.info("{}: to=<{}>: held back by a delivery claim that another worker took over just now", queueId, recipient);
                return null;
            }
            claims.setTtl(key, claimLease.toMillis(), TimeUnit.MILLISECONDS);
            if (held == null) {
                LOG.warn("{}: to=<{}>: replaced a delivery claim this cluster did not seal, or one past its lease (who else "
                        + "can reach Hazelcast? docs/queue.md)", queueId, recipient);
            } else if (member.equals(me)) {
                LOG.warn("{}: to=<{}>: replaced a claim of this worker's that it had given up: written back by someone "
                        + "(who else can reach Hazelcast? docs/queue.md)", queueId, recipient);
            } else {
                LOG.info("{}: to=<{}>: took over the delivery claim of a worker that left the cluster", queueId, recipient);
            }
            holding.add(id);
            return id;
        } catch (RuntimeException e) {
            LOG.warn("{}: claims unavailable ({}); delivering to <{}> unclaimed", queueId, e.toString(), recipient);
            // The put may have been applied before the failure: releasing this identity then removes it.
            if (id == null) {
                return "unclaimed";
            }
            holding.add(id);
            return id;
        }
    }

    private static String memberOf(String id) {
        int slash = id.indexOf('/');
        return slash < 0 ? id : id.substring(0, slash);
    }

    private static long expiryOf(String sealed) {
        int macAt = sealed.lastIndexOf('~');
        try {
            return Long.parseLong(sealed.substring(sealed.lastIndexOf('~', macAt - 1) + 1, macAt), 36);
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private boolean memberPresent(String member) {
        return hazelcast.getCluster().getMembers().stream().anyMatch(m -> m.getUuid().toString().equals(member));
    }

    @Override
    public boolean renew(QueueId queueId, String recipient, String token) {
        String key = key(queueId, recipient);
        try {
            String value = seal.seal(CLAIMS, key, token, System.currentTimeMillis() + claimLease.toMillis());
            return Boolean.TRUE.equals(claims.executeOnKey(key, new Renew(token, value, claimLease.toMillis())));
        } catch (RuntimeException e) {
            return true; // cannot tell; the lease is the backstop either way
        }
    }

    /** Seals a claim again with a later expiry, if it still holds this identity; runs where the entry lives. */
    private record Renew(String id, String value, long leaseMillis) implements EntryProcessor<String, String, Boolean> {
        @Override
        public Boolean process(Map.Entry<String, String> entry) {
            if (entry.getValue() == null || !id.equals(Seal.payloadOf(entry.getValue()))) {
                return false;
            }
            ((ExtendedMapEntry<String, String>) entry).setValue(value, leaseMillis, TimeUnit.MILLISECONDS);
            return true;
        }
    }

    @Override
    public void release(QueueId queueId, String recipient, String token) {
        holding.remove(token);
        try {
            claims.executeOnKey(key(queueId, recipient), new Release(token));
        } catch (RuntimeException e) {
            // The lease runs out by itself.
        }
    }

    /** Removes a claim that holds this identity; runs where the entry lives. */
    private record Release(String id) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            if (entry.getValue() != null && id.equals(Seal.payloadOf(entry.getValue()))) {
                entry.setValue(null);
            }
            return null;
        }
    }

    private static String key(QueueId queueId, String recipient) {
        return queueId.value() + ' ' + recipient;
    }
}
