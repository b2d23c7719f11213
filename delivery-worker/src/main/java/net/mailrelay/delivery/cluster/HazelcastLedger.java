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
 * The settled-recipients ledger (delivered or bounced) and the delivery claims, in one Hazelcast map shared by every
 * worker: a recipient's entry holds its marks and the claim of the delivery at work on it, so that a
 * record's recipients are opened in one call and settled in one. A claim is a mark sealed with its lease's
 * end, set only where no settled mark or live claim is: it stops two
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
    public static final String COVERAGE = "mailrelay.ledger.coverage";
    /** Entries per cluster call when restoring or forgetting. */
    private static final int RESTORE_BATCH = 1_000;

    private final HazelcastInstance hazelcast;
    private final IMap<String, String> delivered;
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
                delivered.executeOnKeys(marks.keySet(), new Marks(marks));
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
    /** A delivery's claim on the recipient: its payload is the letter and the claim's identity, memberUuid/random. */
    static final char CLAIM_MARK = 'C';
    private static final String MARKS = "DBKC";

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
        delivered.executeOnKey(key, new Mark(mark(key, letter, System.currentTimeMillis(), ttl.toMillis())));
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

    /** Forgets the recipients of many committed records: one call per thousand entries, run where they live. */
    @Override
    public void forget(Map<QueueId, List<String>> settled) {
        List<String> keys = new java.util.ArrayList<>();
        settled.forEach((q, recipients) -> recipients.forEach(r -> keys.add(key(q, r))));
        for (int i = 0; i < keys.size(); i += RESTORE_BATCH) {
            try {
                delivered.executeOnKeys(new HashSet<>(keys.subList(i, Math.min(keys.size(), i + RESTORE_BATCH))),
                        new Forget(copyHorizon.toMillis()));
            } catch (RuntimeException e) {
                // Their times to live remove them.
            }
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
    private record Mark(String token) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            write(entry, merge(entry.getValue(), token), System.currentTimeMillis());
            return null;
        }
    }

    /**
     * Stores an entry's marks with the time to live of the longest-lived one (each token names its expiry;
     * unchecked here, where the secret is not: a forged one can only make the entry live longer), or
     * deletes the entry when none is left.
     */
    private static void write(Map.Entry<String, String> entry, String value, long now) {
        long until = 0;
        if (value != null) {
            for (String t : value.split(" ")) {
                if (!t.isEmpty()) {
                    until = Math.max(until, expiryOf(t));
                }
            }
        }
        if (until <= now) {
            if (entry.getValue() != null) {
                entry.setValue(null);
            }
            return;
        }
        ((ExtendedMapEntry<String, String>) entry).setValue(value, until - now, TimeUnit.MILLISECONDS);
    }

    /** Adds each key's own sealed mark (a restore); runs on the members that own the keys. */
    private record Marks(Map<String, String> tokens) implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            String token = tokens.get(entry.getKey());
            if (token != null) {
                write(entry, merge(entry.getValue(), token), System.currentTimeMillis());
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
            if (!(v instanceof String s)) {
                entry.setValue(null);
            } else if (hasMark(s, KEEP_MARK)) {
                ((ExtendedMapEntry<String, String>) entry).setValue(s, keepMillis, TimeUnit.MILLISECONDS);
            } else {
                // A claim in it belongs to a reading of another copy, going on now: it stays.
                String claim = tokenOf(s, CLAIM_MARK);
                write(entry, claim, System.currentTimeMillis());
            }
            return null;
        }
    }

    /**
     * A claim is a mark in the recipient's entry: the sealed {@code C} and identity
     * {@code memberUuid/random}, opening until its lease ends; the token a delivery holds is the identity
     * alone, so that a renewal can seal it again with a later expiry. A claim that opens holds the
     * recipient back only while its member is in the cluster and, when that member is this one, while
     * this ledger still holds it: a claim of ours copied by someone and written back after we released it
     * would otherwise hold our own retry back until its expiry. Claims and settled marks share the entry,
     * so that a record's recipients are opened in one call and settled in one ({@link #open},
     * {@link #settle}).
     */
    @Override
    public List<Opening> open(QueueId queueId, List<String> recipients) {
        String me;
        Map<String, String> ids = new java.util.LinkedHashMap<>();
        Map<String, String> values = new java.util.HashMap<>();
        long now = System.currentTimeMillis();
        try {
            me = hazelcast.getCluster().getLocalMember().getUuid().toString();
        } catch (RuntimeException e) {
            return unclaimed(queueId, recipients, e, null);
        }
        for (String r : recipients) {
            String key = key(queueId, r);
            String id = me + "/" + UUID.randomUUID();
            ids.put(r, id);
            values.put(key, seal.seal(DELIVERED, key, CLAIM_MARK + id, now + claimLease.toMillis()));
        }
        Map<String, Opening> found = new java.util.LinkedHashMap<>();
        Map<String, Set<String>> dead = new java.util.HashMap<>();
        try {
            Map<String, String> seen = delivered.executeOnKeys(values.keySet(), new Open(values, Map.of()));
            judge(queueId, recipients, ids, seen, me, now, found, dead);
            if (!dead.isEmpty()) {
                // Rare: a forged or copied mark, or the claim of a worker that left. Taken over if nothing changed since.
                Map<String, String> again = new java.util.HashMap<>();
                dead.keySet().forEach(k -> again.put(k, values.get(k)));
                Map<String, String> retried = delivered.executeOnKeys(again.keySet(), new Open(again, dead));
                List<String> rest = recipients.stream().filter(r -> dead.containsKey(key(queueId, r))).toList();
                judge(queueId, rest, ids, retried, me, now, found, null);
            }
        } catch (RuntimeException e) {
            return unclaimed(queueId, recipients, e, ids);
        }
        return recipients.stream().map(found::get).toList();
    }

    /** Hazelcast did not answer: every recipient goes ahead, claimed by an identity a later release removes if the claim was made. */
    private List<Opening> unclaimed(QueueId queueId, List<String> recipients, RuntimeException e, Map<String, String> ids) {
        LOG.warn("{}: claims unavailable ({}); delivering to {} unclaimed and without duplicate check", queueId, e.toString(),
                recipients);
        List<Opening> out = new java.util.ArrayList<>();
        for (String r : recipients) {
            String id = ids == null ? "unclaimed" : ids.get(r);
            holding.add(id);
            out.add(new Opening(r, Settled.NO, id));
        }
        return out;
    }

    /**
     * Reads what {@link Open} saw for each recipient: our claim made, a settled mark, a live claim of
     * another delivery, or marks that do not hold (forged, copied, a dead worker's claim), which go to
     * {@code dead} to be taken over (null on that second run: what is still not ours is another's now).
     */
    private void judge(QueueId queueId, List<String> recipients, Map<String, String> ids, Map<String, String> seen, String me,
            long now, Map<String, Opening> found, Map<String, Set<String>> dead) {
        for (String r : recipients) {
            String key = key(queueId, r);
            String v = seen.get(key);
            String id = ids.get(r);
            if (CLAIMED.equals(v)) {
                holding.add(id);
                found.put(r, new Opening(r, Settled.NO, id));
                continue;
            }
            Settled settled = Settled.NO;
            String holder = null;
            String holderToken = null;
            Set<String> foreign = new HashSet<>();
            for (String token : v == null ? new String[0] : v.split(" ")) {
                if (token.isEmpty() || token.charAt(0) == KEEP_MARK) {
                    continue;
                }
                String payload = seal.open(DELIVERED, key, token, now);
                if (payload == null) {
                    foreign.add(token);
                } else if (payload.charAt(0) == DELIVERED_MARK) {
                    settled = Settled.DELIVERED;
                } else if (payload.charAt(0) == BOUNCED_MARK && settled == Settled.NO) {
                    settled = Settled.BOUNCED;
                } else if (payload.charAt(0) == CLAIM_MARK) {
                    holder = payload.substring(1);
                    holderToken = token;
                }
            }
            if (settled != Settled.NO) {
                found.put(r, new Opening(r, settled, null));
                continue;
            }
            String member = holder == null ? null : memberOf(holder);
            boolean live = holder != null && (member.equals(me) ? holding.contains(holder) : memberPresent(member));
            if (live) {
                LOG.info("{}: to=<{}>: held back by the delivery claim of {} (member {}), which runs until {} at the latest",
                        queueId, r, member.equals(me) ? "another delivery on this worker" : "another worker", member,
                        Instant.ofEpochMilli(expiryOf(holderToken)));
                found.put(r, new Opening(r, Settled.NO, null));
                continue;
            }
            if (!foreign.isEmpty()) {
                LOG.warn("{}: to=<{}>: the ledger holds a mark or claim this cluster did not seal, or one past its lease; "
                        + "it is ignored (who else can reach Hazelcast? docs/queue.md)", queueId, r);
            } else if (holder != null && member.equals(me)) {
                LOG.warn("{}: to=<{}>: replacing a claim of this worker's that it had given up: written back by someone "
                        + "(who else can reach Hazelcast? docs/queue.md)", queueId, r);
            } else if (holder != null) {
                LOG.info("{}: to=<{}>: taking over the delivery claim of a worker that left the cluster", queueId, r);
            }
            if (holderToken != null) {
                foreign.add(holderToken);
            }
            if (dead == null || foreign.isEmpty()) {
                found.put(r, new Opening(r, Settled.NO, null)); // taken by another delivery just now
            } else {
                dead.put(key, foreign);
            }
        }
    }

    /** What {@link Open} answers when it made the claim. */
    private static final String CLAIMED = "+";

    /**
     * Claims each recipient unless its entry holds a settled mark or a claim within its lease (both
     * unchecked here: the caller opens their seals and names in {@code ignoring} those that do not hold,
     * for a second run that drops them). Answers {@link #CLAIMED}, or the entry's marks for the caller
     * to judge. Runs on the members that own the keys.
     */
    private record Open(Map<String, String> claims, Map<String, Set<String>> ignoring)
            implements EntryProcessor<String, String, String> {
        @Override
        public String process(Map.Entry<String, String> entry) {
            long now = System.currentTimeMillis();
            Set<String> ignored = ignoring.getOrDefault(entry.getKey(), Set.of());
            StringBuilder kept = new StringBuilder();
            boolean blocked = false;
            boolean dropped = false;
            Object old = entry.getValue();
            for (String t : old instanceof String s ? s.split(" ") : new String[0]) {
                if (t.isEmpty() || MARKS.indexOf(t.charAt(0)) < 0 || ignored.contains(t)
                        || t.charAt(0) == CLAIM_MARK && expiryOf(t) <= now) {
                    dropped = true;
                    continue;
                }
                blocked |= t.charAt(0) == DELIVERED_MARK || t.charAt(0) == BOUNCED_MARK || t.charAt(0) == CLAIM_MARK;
                kept.append(kept.length() == 0 ? "" : " ").append(t);
            }
            if (blocked) {
                if (dropped) {
                    write(entry, kept.toString(), now);
                }
                return kept.toString();
            }
            write(entry, merge(kept.length() == 0 ? null : kept.toString(), claims.get(entry.getKey())), now);
            return CLAIMED;
        }
    }

    /** The first token of {@code letter} in a value, or null. */
    private static String tokenOf(String value, char letter) {
        for (String t : value.split(" ")) {
            if (!t.isEmpty() && t.charAt(0) == letter) {
                return t;
            }
        }
        return null;
    }

    /**
     * Sets each recipient's mark (delivered, bounced, a copy queued) and gives up its claim, in one call
     * for the message: run where the entries live, the mark is set before the claim goes.
     */
    @Override
    public void settle(QueueId queueId, List<Settlement> settlements) {
        long now = System.currentTimeMillis();
        Map<String, String> marks = new java.util.HashMap<>();
        Map<String, String> releases = new java.util.HashMap<>();
        for (Settlement s : settlements) {
            String key = key(queueId, s.recipient());
            switch (s.outcome()) {
                case DELIVERED -> marks.put(key, mark(key, DELIVERED_MARK, now, retention.toMillis()));
                case BOUNCED -> marks.put(key, mark(key, BOUNCED_MARK, now, retention.toMillis()));
                case COPY_QUEUED -> marks.put(key, mark(key, KEEP_MARK, now, copyHorizon.toMillis()));
                case RELEASED -> {
                }
            }
            if (s.token() != null) {
                holding.remove(s.token());
                releases.put(key, CLAIM_MARK + s.token());
            }
        }
        Set<String> keys = new HashSet<>(marks.keySet());
        keys.addAll(releases.keySet());
        if (keys.isEmpty()) {
            return;
        }
        try {
            delivered.executeOnKeys(keys, new Settle(marks, releases));
        } catch (RuntimeException e) {
            // Their claims' leases run out by themselves.
            LOG.warn("{}: ledger unavailable ({}); {} may be delivered or bounced again if this message is read again",
                    queueId, e.toString(), settlements.stream().map(Settlement::recipient).toList());
        }
    }

    /** Adds each key's mark and removes each key's claim that holds the given identity; runs where the entries live. */
    private record Settle(Map<String, String> marks, Map<String, String> releases)
            implements EntryProcessor<String, String, Void> {
        @Override
        public Void process(Map.Entry<String, String> entry) {
            String value = entry.getValue();
            String mark = marks.get(entry.getKey());
            if (mark != null) {
                value = merge(value, mark);
            }
            String claim = releases.get(entry.getKey());
            if (claim != null && value != null) {
                String held = tokenOf(value, CLAIM_MARK);
                if (held != null && claim.equals(Seal.payloadOf(held))) {
                    value = java.util.Arrays.stream(value.split(" ")).filter(t -> !t.equals(held))
                            .collect(Collectors.joining(" "));
                }
            }
            write(entry, value == null || value.isEmpty() ? null : value, System.currentTimeMillis());
            return null;
        }
    }

    /** Claims one recipient (see {@link #open}); null when another delivery holds it or it is settled. */
    @Override
    public String claim(QueueId queueId, String recipient) {
        return open(queueId, List.of(recipient)).get(0).token();
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
            String value = seal.seal(DELIVERED, key, CLAIM_MARK + token, System.currentTimeMillis() + claimLease.toMillis());
            return Boolean.TRUE.equals(delivered.executeOnKey(key, new Renew(CLAIM_MARK + token, value)));
        } catch (RuntimeException e) {
            return true; // cannot tell; the lease is the backstop either way
        }
    }

    /** Seals a claim again with a later expiry, if it still holds this identity; runs where the entry lives. */
    private record Renew(String payload, String value) implements EntryProcessor<String, String, Boolean> {
        @Override
        public Boolean process(Map.Entry<String, String> entry) {
            String held = entry.getValue() == null ? null : tokenOf(entry.getValue(), CLAIM_MARK);
            if (held == null || !payload.equals(Seal.payloadOf(held)) || expiryOf(held) <= System.currentTimeMillis()) {
                return false;
            }
            write(entry, merge(entry.getValue(), value), System.currentTimeMillis());
            return true;
        }
    }

    @Override
    public void release(QueueId queueId, String recipient, String token) {
        settle(queueId, List.of(new Settlement(recipient, token, Outcome.RELEASED)));
    }

    private static String key(QueueId queueId, String recipient) {
        return queueId.value() + ' ' + recipient;
    }
}
