package net.mailrelay.protocol.record;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which offsets of each partition are being worked on and which are finished, so that a consumer's
 * committed offset never passes a record whose outcome is not yet durable: records finish out of
 * order, but an offset is committed only when every record before it has finished. The worker and the
 * bounce service both use it, each on its poll thread only.
 *
 * <p>A record that fails is not rewound: it stays here, unfinished, until the consumer has done it
 * again (in place, after a backoff) and reports it finished. Nothing else of its partition is touched,
 * so a record below it that is still running, or one above it that has finished, keeps counting. Only
 * a revocation drops a partition's records ({@link #forget}).
 *
 * <p>Every {@link #started} hands out a token, unique over the tracker's life. A completion counts only
 * with the token its offset holds now: one from before a revocation (the partition assigned back and
 * its record read again) is stale, and so is a failure that comes back late: it must neither finish the
 * record nor make the consumer seek.
 *
 * @param <P> the partition type (Kafka's TopicPartition; kept generic so this module imports no client)
 */
public final class OffsetTracker<P> {

    private static final class Partition {
        /** offset -> the token of its current reading, negated once it has finished */
        final TreeMap<Long, Long> offsets = new TreeMap<>();
        /** One past the longest finished prefix: what may be committed. */
        long next = -1;
        /** What the broker has acknowledged as committed. */
        long committed = -1;
    }

    private final Map<P, Partition> partitions = new HashMap<>();
    private long nextToken = 1;
    private int pending;

    /** Registers a record being started; returns the token its completion must carry. */
    public long started(P partition, long offset) {
        Partition p = partitions.computeIfAbsent(partition, k -> new Partition());
        long token = nextToken++;
        Long before = p.offsets.put(offset, token);
        if (before == null || before < 0) {
            pending++;
        }
        return token;
    }

    /** Whether a completion with this token is for the reading of the record that counts now. */
    public boolean current(P partition, long offset, long token) {
        Partition p = partitions.get(partition);
        Long t = p == null ? null : p.offsets.get(offset);
        return t != null && t == token;
    }

    /**
     * Marks a record finished, if the token is current.
     *
     * @return whether the completion counted
     */
    public boolean finished(P partition, long offset, long token) {
        if (!current(partition, offset, token)) {
            return false;
        }
        partitions.get(partition).offsets.put(offset, -token);
        pending--;
        return true;
    }

    /**
     * Offsets that may now be committed: for each partition, one past its longest finished prefix, as
     * long as the broker has not acknowledged it ({@link #committed}). An offset whose commit failed (the
     * group coordinator moved with a broker, say) is offered again, so that it is not left uncommitted on
     * a partition that gets no more records.
     */
    public Map<P, Long> committable() {
        Map<P, Long> out = new HashMap<>();
        partitions.forEach((tp, p) -> {
            while (!p.offsets.isEmpty() && p.offsets.firstEntry().getValue() < 0) {
                p.next = p.offsets.pollFirstEntry().getKey() + 1;
            }
            if (p.next > p.committed) {
                out.put(tp, p.next);
            }
        });
        return out;
    }

    /**
     * The consumer's position on a partition it has read from: the offsets below it that came as no
     * record (a transaction's commit or abort marker, the records of an aborted transaction, which a
     * {@code read_committed} consumer skips) may be committed past once every record read is finished.
     * Without it a partition's commit stopped one short of its end, at the last marker, for good.
     */
    public void readTo(P partition, long position) {
        Partition p = partitions.get(partition);
        if (p == null) {
            return;
        }
        while (!p.offsets.isEmpty() && p.offsets.firstEntry().getValue() < 0) {
            p.next = p.offsets.pollFirstEntry().getKey() + 1;
        }
        if (p.offsets.isEmpty() && position > p.next) {
            p.next = position;
        }
    }

    /** The broker acknowledged these offsets as committed. */
    public void committed(Map<P, Long> offsets) {
        offsets.forEach((tp, o) -> {
            Partition p = partitions.get(tp);
            if (p != null) {
                p.committed = Math.max(p.committed, o);
            }
        });
    }

    /** The partition went to another consumer: whatever of it is still running no longer counts. */
    public void forget(P partition) {
        Partition p = partitions.remove(partition);
        if (p != null) {
            pending -= (int) p.offsets.values().stream().filter(t -> t > 0).count();
        }
    }

    /** Records started and not finished, on the partitions still held. */
    public int pending() {
        return pending;
    }

    /** Whether the partition has a started record not yet finished. */
    public boolean busy(P partition) {
        Partition p = partitions.get(partition);
        return p != null && p.offsets.values().stream().anyMatch(t -> t > 0);
    }
}
