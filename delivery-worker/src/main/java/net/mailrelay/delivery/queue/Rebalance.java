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
 * with a token that no longer counts. Runs on the poll thread, inside {@code poll}.
 */
final class Rebalance implements ConsumerRebalanceListener {

    private final org.apache.kafka.clients.consumer.Consumer<?, ?> consumer;
    private final Runnable drainCompletions;
    private final Commits commits;
    private final Pauses pauses;
    private final TierSchedule tiers;
    private final Consumer<TopicPartition> abandonWaiting;

    Rebalance(org.apache.kafka.clients.consumer.Consumer<?, ?> consumer, Runnable drainCompletions, Commits commits,
            Pauses pauses, TierSchedule tiers, Consumer<TopicPartition> abandonWaiting) {
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
        commits.commitSync(consumer, partitions, "on revocation");
        forget(partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
        // Another member may own them already: committing would be refused, so only forget.
        forget(partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        // Nothing to restore: offsets come from the group, pauses are recomputed by the loop.
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
