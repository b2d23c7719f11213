package net.mailrelay.bounce.queue;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The bounce requests whose notifications are still being produced, in offset order per partition.
 * A partition's offset may be committed past a record only when that record and every one before it
 * is done, so a crash can repeat a notification but never lose one. Used only on the poll thread;
 * the futures complete on the producer's thread.
 */
final class InFlight {

    /** One dispatched record: done when its notification is acknowledged, or nothing had to be sent. */
    record Pending(long offset, CompletableFuture<Void> done) {
    }

    /** What {@link #settle()} found: offsets to commit, and partitions whose head record failed. */
    record Settled(Map<TopicPartition, OffsetAndMetadata> commits, Map<TopicPartition, Long> failedAt) {
    }

    private final Map<TopicPartition, Deque<Pending>> pending = new HashMap<>();

    void add(TopicPartition partition, long offset, CompletableFuture<Void> done) {
        pending.computeIfAbsent(partition, p -> new ArrayDeque<>()).addLast(new Pending(offset, done));
    }

    void done(TopicPartition partition, long offset) {
        add(partition, offset, CompletableFuture.completedFuture(null));
    }

    /**
     * Drops the finished records at the head of each partition. A failed head stays, and stops its
     * partition: nothing after it is committed until it is retried.
     */
    Settled settle() {
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        Map<TopicPartition, Long> failedAt = new HashMap<>();
        for (Map.Entry<TopicPartition, Deque<Pending>> e : pending.entrySet()) {
            Deque<Pending> queue = e.getValue();
            long next = -1;
            while (!queue.isEmpty() && queue.peekFirst().done().isDone()) {
                Pending head = queue.peekFirst();
                if (head.done().isCompletedExceptionally()) {
                    failedAt.put(e.getKey(), head.offset());
                    break;
                }
                next = queue.removeFirst().offset() + 1;
            }
            if (next >= 0) {
                commits.put(e.getKey(), new OffsetAndMetadata(next));
            }
        }
        pending.values().removeIf(Deque::isEmpty);
        return new Settled(commits, failedAt);
    }

    /** Whether every record dispatched from the partition has finished, well or badly. */
    boolean quiet(TopicPartition partition) {
        Deque<Pending> queue = pending.get(partition);
        return queue == null || queue.stream().allMatch(p -> p.done().isDone());
    }

    /** Forgets a partition: it was revoked, or its records will be read again after a seek. */
    void forget(Collection<TopicPartition> partitions) {
        partitions.forEach(pending::remove);
    }

    boolean isEmpty() {
        return pending.isEmpty();
    }
}
