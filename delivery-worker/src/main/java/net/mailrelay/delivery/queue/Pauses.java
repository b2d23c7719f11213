package net.mailrelay.delivery.queue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Which partitions the consumer fetches from: a retry-tier partition whose head is not due, and one
 * whose outcome records cannot be written just now, are paused until a time; when too many records are
 * in flight every partition is paused (backpressure). The poll thread applies this before each poll, so
 * a pause is lifted within one poll interval of its end and the thread itself never waits.
 */
final class Pauses {

    private final Map<TopicPartition, Long> until = new HashMap<>();
    private final Set<TopicPartition> paused = new HashSet<>();
    /** Waiting for the ledger to be rebuilt: paused until it is, whatever else says. */
    private final Set<TopicPartition> blocked = new HashSet<>();

    void block(TopicPartition tp) {
        blocked.add(tp);
    }

    void unblock(TopicPartition tp) {
        blocked.remove(tp);
    }

    /** Pauses the partition until {@code millis}, or longer if it is already paused for longer. */
    void hold(TopicPartition tp, long millis) {
        until.merge(tp, millis, Math::max);
    }

    /** Lifts the partition's pause now (a retry-now request wants its records). */
    void lift(TopicPartition tp) {
        until.remove(tp);
    }

    void forget(TopicPartition tp) {
        until.remove(tp);
        paused.remove(tp);
        blocked.remove(tp);
    }

    /** Pauses exactly the partitions that are held back (all of them under backpressure) and resumes the rest. */
    void apply(Consumer<?, ?> consumer, long now, boolean backpressure) {
        until.values().removeIf(t -> t <= now);
        Set<TopicPartition> assigned = consumer.assignment();
        Set<TopicPartition> want = new HashSet<>(backpressure ? assigned : until.keySet());
        want.addAll(blocked);
        want.retainAll(assigned);
        Set<TopicPartition> toPause = new HashSet<>(want);
        toPause.removeAll(paused);
        Set<TopicPartition> toResume = new HashSet<>(paused);
        toResume.removeAll(want);
        toResume.retainAll(assigned);
        if (!toPause.isEmpty()) {
            consumer.pause(toPause);
        }
        if (!toResume.isEmpty()) {
            consumer.resume(toResume);
        }
        paused.clear();
        paused.addAll(want);
    }
}
