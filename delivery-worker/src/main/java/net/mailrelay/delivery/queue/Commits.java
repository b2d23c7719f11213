package net.mailrelay.delivery.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.ledger.RecipientClaims;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.OffsetTracker;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Completions and commits: which records are started and finished ({@link OffsetTracker}), the
 * committing of each partition's finished prefix, and, once a record's offset is committed, the
 * ledger's forgetting of the recipients it settled. Used by the poll thread only.
 *
 * <p>Each commit carries, as its metadata, a time before which nothing at or after the committed offset
 * was delivered: when this worker read the oldest record it has not finished, or the commit's own time
 * when it has none. After the ledger is lost, {@link LedgerRebuild} reads the delivery log from there.
 * A partition with nothing to commit has its offset committed again every minute with a fresh time, so
 * that the time of a quiet partition (a retry tier waiting for its head) stays recent.
 */
final class Commits {

    private static final Logger LOG = LoggerFactory.getLogger(Commits.class);
    /**
     * Offsets are committed at most this often (and on revocation and at close): a commit per poll cost
     * a write to __consumer_offsets per message. A crash repeats at most this much finished work.
     */
    private static final long INTERVAL_NANOS = Duration.ofMillis(500).toNanos();
    private static final long REFRESH_MILLIS = Duration.ofMinutes(1).toMillis();
    private static final String READ_MARK = "read=";

    private final OffsetTracker<TopicPartition> tracker = new OffsetTracker<>();
    private final Map<TopicPartition, TreeMap<Long, RecordJob.Settled>> forgettable = new HashMap<>();
    /** Per partition, the first offset not yet acknowledged as committed, as this consumer knows it. */
    private final Map<TopicPartition, Long> base = new HashMap<>();
    /** Per partition, the records started and not finished: offset -> when it was read. */
    private final Map<TopicPartition, TreeMap<Long, Long>> readAt = new HashMap<>();
    private final Map<TopicPartition, Long> markedAt = new HashMap<>();
    private final Map<TopicPartition, Inherited> inherited = new HashMap<>();
    /**
     * Per partition, the end it had when assigned: a record below it may have been read before, by a
     * previous owner or before a crash, and that reading may have queued a retry copy of it already.
     */
    private final Map<TopicPartition, Long> rereadUntil = new HashMap<>();
    private final RecipientClaims claims;
    // One thread, a bounded queue: a forget that does not fit is dropped, and the entry's time to live
    // removes it instead.
    private final ExecutorService forgetter = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(10_000), r -> {
                Thread t = new Thread(r, "ledger-forget");
                t.setDaemon(true);
                return t;
            }, new ThreadPoolExecutor.DiscardPolicy());
    private long committedAt = System.nanoTime();

    Commits(RecipientClaims claims) {
        this.claims = claims;
    }

    long started(TopicPartition tp, long offset, long nowMillis) {
        base.putIfAbsent(tp, offset);
        readAt.computeIfAbsent(tp, k -> new TreeMap<>()).putIfAbsent(offset, nowMillis);
        return tracker.started(tp, offset);
    }

    /**
     * A partition newly assigned, with the offset the group had committed for it (null: none), the time
     * that commit carried, and the partition's end. Until this worker has committed past that end, what
     * it commits carries the earlier of its own time and the previous owner's: the previous owner may
     * have delivered any record up to the end before it left. Without a previous time, the commits carry
     * none until then, and a rebuild falls back on when the records were written.
     */
    void assigned(TopicPartition tp, Long committed, OptionalLong previousMark, long end, long nowMillis) {
        if (committed == null || committed < end) {
            rereadUntil.put(tp, end);
            // A previous owner may have delivered records below the end without ever committing (issue 29):
            // this worker's own time would then be too late a horizon for a rebuild.
            inherited.put(tp, new Inherited(committed == null ? OptionalLong.empty() : previousMark, end));
        }
        if (committed == null) {
            return;
        }
        base.putIfAbsent(tp, committed);
        markedAt.putIfAbsent(tp, nowMillis - REFRESH_MILLIS); // refreshed at the next commit
    }

    /** What a commit now would carry, without committing: for tests. */
    Map<TopicPartition, OffsetAndMetadata> toCommit(long nowMillis) {
        return committable(null, nowMillis);
    }

    /** The previous owner's time, which holds until the commits have gone past what it may have delivered. */
    private record Inherited(OptionalLong mark, long until) {
    }

    private String markFor(TopicPartition tp, long offset, long own) {
        Inherited i = inherited.get(tp);
        if (i == null || offset >= i.until()) {
            inherited.remove(tp);
            return mark(own);
        }
        return i.mark().isPresent() ? mark(Math.min(own, i.mark().getAsLong())) : "";
    }

    /** The time a commit carries (see the class comment). */
    static String mark(long millis) {
        return READ_MARK + millis;
    }

    /** The time a commit's metadata carries; empty for a commit without one (another version, or another tool). */
    static OptionalLong readMark(String metadata) {
        if (metadata == null || !metadata.startsWith(READ_MARK)) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(metadata.substring(READ_MARK.length())));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    boolean current(RecordJob job) {
        return tracker.current(job.tp, job.record.offset(), job.token);
    }

    /** A job is finished; a stale one (its partition revoked since) does not count and makes the ledger forget nothing. */
    void finished(RecordJob job) {
        if (!tracker.finished(job.tp, job.record.offset(), job.token)) {
            return;
        }
        TreeMap<Long, Long> read = readAt.get(job.tp);
        if (read != null) {
            read.remove(job.record.offset());
        }
        if (job.settled() == null) {
            return;
        }
        Long until = rereadUntil.get(job.tp);
        if (until != null && job.record.offset() < until) {
            // Read before, perhaps: a reading that postponed a recipient queued a copy of the record on a
            // retry tier, and that copy must find the recipient settled when it comes, not forgotten at
            // this commit (it was delivered twice so, after a crash).
            RecordJob.Settled s = job.settled();
            forgetter.execute(() -> claims.copyQueued(s.queueId(), s.recipients()));
            return;
        }
        forgettable.computeIfAbsent(job.tp, k -> new TreeMap<>()).put(job.record.offset(), job.settled());
    }

    /** Commits what may be committed, at most every half second, without waiting. */
    void commitAsync(Consumer<?, ?> consumer, long nowMillis) {
        long t = System.nanoTime();
        if (t - committedAt < INTERVAL_NANOS) {
            return;
        }
        committedAt = t;
        readTo(consumer, null);
        Map<TopicPartition, OffsetAndMetadata> offsets = committable(null, nowMillis);
        refreshes(offsets, nowMillis);
        if (!offsets.isEmpty()) {
            consumer.commitAsync(offsets, (o, e) -> {
                if (e != null) {
                    LOG.warn("offset commit failed ({}); it is tried again", e.toString());
                } else {
                    acknowledged(o);
                }
            });
        }
    }

    /** Commits what may be committed of these partitions (all when null) and waits; on revocation and at close. */
    void commitSync(Consumer<?, ?> consumer, Collection<TopicPartition> partitions, String when, long nowMillis) {
        readTo(consumer, partitions);
        Map<TopicPartition, OffsetAndMetadata> offsets = committable(partitions, nowMillis);
        if (offsets.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(offsets);
            acknowledged(offsets);
        } catch (RuntimeException e) {
            LOG.warn("commit {} failed ({}); some records will be delivered again, the ledger skipping what they settled",
                    when, e.toString());
        }
    }

    /** Lets the commit pass the transaction markers the consumer skipped ({@link OffsetTracker#readTo}). */
    private void readTo(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions == null ? consumer.assignment() : partitions) {
            try {
                tracker.readTo(tp, consumer.position(tp, java.time.Duration.ZERO));
            } catch (RuntimeException e) {
                // No position known yet (nothing fetched), or the partition is gone: nothing to pass.
            }
        }
    }

    private Map<TopicPartition, OffsetAndMetadata> committable(Collection<TopicPartition> partitions, long nowMillis) {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        tracker.committable().forEach((tp, o) -> {
            if (partitions == null || partitions.contains(tp)) {
                out.put(tp, new OffsetAndMetadata(o, markFor(tp, o, oldestRead(tp, nowMillis))));
                markedAt.put(tp, nowMillis);
            }
        });
        return out;
    }

    private long oldestRead(TopicPartition tp, long nowMillis) {
        TreeMap<Long, Long> read = readAt.get(tp);
        return read == null ? nowMillis : read.values().stream().mapToLong(Long::longValue).min().orElse(nowMillis);
    }

    /** The same offset again, with a fresh time, for a partition that has had nothing to commit for a minute. */
    private void refreshes(Map<TopicPartition, OffsetAndMetadata> offsets, long nowMillis) {
        markedAt.forEach((tp, at) -> {
            Long b = base.get(tp);
            if (nowMillis - at >= REFRESH_MILLIS && b != null && !offsets.containsKey(tp) && !tracker.busy(tp)) {
                offsets.put(tp, new OffsetAndMetadata(b, markFor(tp, b, nowMillis)));
            }
        });
        offsets.keySet().forEach(tp -> markedAt.put(tp, nowMillis));
    }

    private void acknowledged(Map<TopicPartition, OffsetAndMetadata> offsets) {
        Map<TopicPartition, Long> plain = new HashMap<>();
        offsets.forEach((tp, o) -> plain.put(tp, o.offset()));
        tracker.committed(plain);
        plain.forEach((tp, o) -> base.computeIfPresent(tp, (k, b) -> Math.max(b, o)));
        forgetCommitted(plain);
    }

    /**
     * A committed record is never read again, so the ledger no longer needs its settled recipients:
     * forgetting them keeps the ledger as small as the uncommitted window instead of growing with every
     * message (its time to live is only the backstop for a worker that dies before it forgets).
     */
    private void forgetCommitted(Map<TopicPartition, Long> committed) {
        committed.forEach((tp, o) -> {
            TreeMap<Long, RecordJob.Settled> m = forgettable.get(tp);
            if (m == null) {
                return;
            }
            var done = m.headMap(o, false);
            if (!done.isEmpty()) {
                // Off the poll thread, in one batch: a cluster call per recipient here held deliveries back.
                Map<QueueId, List<String>> batch = new HashMap<>();
                done.values().forEach(d -> batch.computeIfAbsent(d.queueId(), q -> new ArrayList<>()).addAll(d.recipients()));
                forgetter.execute(() -> claims.committed(batch));
                done.clear();
            }
        });
    }

    /** The partition went to another consumer. */
    void forget(TopicPartition tp) {
        tracker.forget(tp);
        forgettable.remove(tp);
        base.remove(tp);
        readAt.remove(tp);
        markedAt.remove(tp);
        inherited.remove(tp);
        rereadUntil.remove(tp);
    }

    /**
     * Per topic, records read from this worker's partitions and not yet committed (from the first offset
     * it has not had acknowledged up to the fetch position): the in-flight ones, and any whose commit is
     * held up behind one that is not finished. A partition that has stopped committing grows here while
     * the fetch lag stays flat.
     */
    Map<String, Long> uncommitted(Consumer<?, ?> consumer) {
        Map<String, Long> sums = new HashMap<>();
        for (TopicPartition tp : consumer.assignment()) {
            Long b = base.get(tp);
            if (b != null) {
                try {
                    sums.merge(tp.topic(), Math.max(0, consumer.position(tp, Duration.ZERO) - b), Long::sum);
                } catch (RuntimeException e) {
                    // No position known right now (being reset): counted at the next measure.
                }
            }
        }
        return sums;
    }

    int pending() {
        return tracker.pending();
    }

    void close() {
        forgetter.shutdown();
    }
}
