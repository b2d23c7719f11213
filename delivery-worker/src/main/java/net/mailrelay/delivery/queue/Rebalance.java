package net.mailrelay.delivery.queue;

import java.util.Collection;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;

/**
 * What a rebalance does to the loop's state. A revoked partition first has its finished records
 * committed, so that the next owner repeats as little as possible; then everything this worker knew of
 * it is dropped: its offsets, pauses and flushes, and the jobs waiting to run again, which are abandoned
 * (their claims given up; the new owner reads the records again). A job of it still running finishes
 * with a token that no longer counts. An assigned partition is handed to the loop, which rebuilds the
 * ledger for it if the ledger cannot vouch for it. Runs on the poll thread, inside {@code poll}.
 */
final class Rebalance implements ConsumerRebalanceListener {

    private final org.apache.kafka.clients.consumer.Consumer<?, ?> consumer;
    private final Runnable drainCompletions;
    private final Commits commits;
    private final Pauses pauses;
    private final TierSchedule tiers;
    private final Consumer<TopicPartition> abandonWaiting;
    private final Consumer<Collection<TopicPartition>> assigned;
    private final java.util.function.LongSupplier clock;

    Rebalance(org.apache.kafka.clients.consumer.Consumer<?, ?> consumer, Runnable drainCompletions, Commits commits,
            Pauses pauses, TierSchedule tiers, Consumer<TopicPartition> abandonWaiting,
            Consumer<Collection<TopicPartition>> assigned, java.util.function.LongSupplier clock) {
        this.assigned = assigned;
        this.clock = clock;
        this.consumer = consumer;
        this.drainCompletions = drainCompletions;
        this.commits = commits;
        this.pauses = pauses;
        this.tiers = tiers;
        this.abandonWaiting = abandonWaiting;
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        drainCompletions.run();
        commits.commitSync(consumer, partitions, "on revocation", clock.getAsLong());
        forget(partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
        // Another member may own them already: committing would be refused, so only forget.
        forget(partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        // Offsets come from the group and pauses are recomputed by the loop; the ledger must cover the
        // partitions before anything of them is delivered.
        assigned.accept(partitions);
    }

    private void forget(Collection<TopicPartition> partitions) {
        partitions.forEach(tp -> {
            commits.forget(tp);
            pauses.forget(tp);
            tiers.forget(tp);
            abandonWaiting.accept(tp);
        });
    }
}
