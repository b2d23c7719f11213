package net.mailrelay.delivery.queue;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Which offsets of each partition are being worked on and which are finished, so that the committed
 * offset never passes a record whose outcome is not yet durable: records finish out of order, but an
 * offset is committed only when every record before it has finished. Used by the poll thread only.
 */
final class OffsetTracker {

    private static final class Partition {
        final TreeMap<Long, Boolean> offsets = new TreeMap<>(); // offset -> finished
        long epoch;
        /** One past the longest finished prefix: what may be committed. */
        long next = -1;
        /** What Kafka has acknowledged as committed. */
        long committed = -1;

        Partition(long epoch) {
            this.epoch = epoch;
        }
    }

    /**
     * Epochs are unique over the tracker's life, not per partition: a partition revoked and assigned back
     * must not accept a completion from before the revocation as the completion of its record read again.
     */
    private long nextEpoch;

    private final Map<TopicPartition, Partition> partitions = new HashMap<>();
    private int inFlight;

    /** Registers a record being started; returns the epoch its completion must carry. */
    long started(TopicPartition tp, long offset) {
        Partition p = partitions.computeIfAbsent(tp, k -> new Partition(nextEpoch++));
        if (p.offsets.put(offset, Boolean.FALSE) == null) {
            inFlight++;
        }
        return p.epoch;
    }

    /**
     * Marks a record finished; completions from before a rewind or revocation are ignored.
     *
     * @return whether the completion counted
     */
    boolean finished(TopicPartition tp, long offset, long epoch) {
        Partition p = partitions.get(tp);
        if (p == null || p.epoch != epoch || !Boolean.FALSE.equals(p.offsets.get(offset))) {
            return false;
        }
        p.offsets.put(offset, Boolean.TRUE);
        inFlight--;
        return true;
    }

    /**
     * Offsets that may now be committed: for each partition, one past its longest finished prefix, as
     * long as Kafka has not acknowledged it ({@link #committed}). An offset whose commit failed (the group
     * coordinator moved with a broker, say) is offered again, so that it is not left uncommitted on a
     * partition that gets no more records: a record read again after that could find its recipients
     * already forgotten by the ledger through a later copy of the same message.
     */
    Map<TopicPartition, OffsetAndMetadata> committable() {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        partitions.forEach((tp, p) -> {
            while (!p.offsets.isEmpty() && p.offsets.firstEntry().getValue()) {
                p.next = p.offsets.pollFirstEntry().getKey() + 1;
            }
            if (p.next > p.committed) {
                out.put(tp, new OffsetAndMetadata(p.next));
            }
        });
        return out;
    }

    /** Kafka acknowledged these offsets as committed. */
    void committed(Map<TopicPartition, OffsetAndMetadata> offsets) {
        offsets.forEach((tp, o) -> {
            Partition p = partitions.get(tp);
            if (p != null) {
                p.committed = Math.max(p.committed, o.offset());
            }
        });
    }

    /** Forgets every record at or after {@code offset}: they will be read again. */
    void rewind(TopicPartition tp, long offset) {
        Partition p = partitions.get(tp);
        if (p == null) {
            return;
        }
        Map<Long, Boolean> dropped = p.offsets.tailMap(offset, true);
        inFlight -= (int) dropped.values().stream().filter(done -> !done).count();
        dropped.clear();
        p.epoch = nextEpoch++;
    }

    /** The partition went to another consumer: whatever is still running no longer counts. */
    void forget(TopicPartition tp) {
        Partition p = partitions.remove(tp);
        if (p != null) {
            inFlight -= (int) p.offsets.values().stream().filter(done -> !done).count();
        }
    }

    int inFlight() {
        return inFlight;
    }
}
