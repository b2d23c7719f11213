package net.mailrelay.delivery.cluster;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.spi.merge.MergingValue;
import com.hazelcast.spi.merge.SplitBrainMergePolicy;

/**
 * How the ledger heals after a split brain: an entry both halves wrote keeps the marks of both. While
 * the cluster was split, each half went on delivering the Kafka partitions the consumer group gave its
 * workers, and wrote its marks on its own side. Hazelcast's default (put if absent) keeps one side's
 * value for such a key and drops the other's marks, and a recipient delivered on the dropped side
 * would then be delivered again when its record is read again. A union loses no mark. Marks stay
 * sealed through it: the union only moves tokens, one per kind, as {@link HazelcastLedger#merge} does.
 */
public final class LedgerMergePolicy implements SplitBrainMergePolicy<Object, MergingValue<Object>, Object> {

    @Override
    public Object merge(MergingValue<Object> merging, MergingValue<Object> existing) {
        if (existing == null) {
            return merging.getDeserializedValue();
        }
        return HazelcastLedger.union(existing.getDeserializedValue(), merging.getDeserializedValue());
    }

    @Override
    public void writeData(ObjectDataOutput out) {
        // no state
    }

    @Override
    public void readData(ObjectDataInput in) {
        // no state
    }
}
