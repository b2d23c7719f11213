package net.mailrelay.delivery.queue;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import net.mailrelay.delivery.attempt.RecipientLedger;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the ledger covering every partition this worker delivers from. When a partition is assigned,
 * and whenever the ledger turns out to have lost its marks (a new Hazelcast cluster, or a partition of
 * it lost with its backups), the partitions it cannot vouch for are rebuilt from the delivery log
 * ({@link LedgerRebuild}) before anything more of them is delivered. A rebuild that fails leaves them
 * paused, and is tried again at the next check. Runs on the poll thread, except the check for lost
 * marks, which asks Hazelcast on a thread of its own so that a slow cluster cannot hold up the poll.
 */
final class Coverage implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Coverage.class);
    private static final Duration CHECK = Duration.ofSeconds(5);
    private static final Duration KAFKA_WAIT = Duration.ofSeconds(30);

    private final Consumer<?, ?> consumer;
    private final RecipientLedger ledger;
    private final LedgerRebuild rebuild;
    private final Commits commits;
    private final Pauses pauses;
    private final LongSupplier clock;
    private final Set<TopicPartition> waiting = new HashSet<>();
    /**
     * Partitions this worker has seen covered (rebuilt, or marked by another worker) since it was
     * assigned them: only their marks can be lost. One still being rebuilt has no mark yet, and taking
     * that for a loss rebuilt it twice.
     */
    private final Set<TopicPartition> vouched = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile List<TopicPartition> assignment = List.of();
    private volatile boolean lost;
    private final ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ledger-coverage");
        t.setDaemon(true);
        return t;
    });

    Coverage(Consumer<?, ?> consumer, RecipientLedger ledger, LedgerRebuild rebuild, Commits commits, Pauses pauses,
            LongSupplier clock) {
        this.consumer = consumer;
        this.ledger = ledger;
        this.rebuild = rebuild;
        this.commits = commits;
        this.pauses = pauses;
        this.clock = clock;
        checker.scheduleWithFixedDelay(this::lookForLoss, CHECK.toMillis(), CHECK.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Partitions just assigned: the commits learn where the previous owner stood, and the ledger is made to cover them. */
    void assigned(Collection<TopicPartition> partitions) {
        assignment = List.copyOf(consumer.assignment());
        vouched.retainAll(assignment);
        vouched.removeAll(partitions);
        if (partitions.isEmpty()) {
            return;
        }
        Positions p;
        try {
            p = positions(partitions);
        } catch (RuntimeException e) {
            LOG.warn("the committed offsets of {} cannot be read ({}); their ledger is checked again in {}", partitions,
                    e.toString(), CHECK);
            hold(partitions);
            return;
        }
        partitions.forEach(tp -> commits.assigned(tp, p.committed(tp), p.mark(tp), p.ends.get(tp), clock.getAsLong()));
        cover(partitions, p);
    }

    /** From the poll loop: rebuilds what waits for it, or what the checker found uncovered. */
    void check() {
        if (!lost && waiting.isEmpty()) {
            return;
        }
        boolean all = lost;
        lost = false;
        Set<TopicPartition> held = consumer.assignment();
        assignment = List.copyOf(held);
        vouched.retainAll(held);
        waiting.retainAll(held);
        Set<TopicPartition> todo = new HashSet<>(all ? held : waiting);
        if (todo.isEmpty()) {
            return;
        }
        try {
            Positions p = positions(todo);
            // Those whose committed offsets could not be read when they were assigned learn them now.
            waiting.forEach(tp -> commits.assigned(tp, p.committed(tp), p.mark(tp), p.ends.get(tp), clock.getAsLong()));
            cover(todo, p);
        } catch (RuntimeException e) {
            LOG.warn("the committed offsets of {} cannot be read ({}); tried again in {}", todo, e.toString(), CHECK);
            hold(todo);
        }
    }

    private void cover(Collection<TopicPartition> partitions, Positions p) {
        Set<String> uncovered = ledger.uncovered(LedgerRebuild.names(partitions));
        Map<TopicPartition, LedgerRebuild.Start> starts = new HashMap<>();
        for (TopicPartition tp : partitions) {
            if (uncovered.contains(LedgerRebuild.name(tp))) {
                Long from = p.committed(tp);
                starts.put(tp, new LedgerRebuild.Start(from == null ? p.beginning.get(tp) : from, p.ends.get(tp), p.mark(tp)));
            } else {
                release(tp);
            }
        }
        if (starts.isEmpty()) {
            return;
        }
        try {
            // On the poll thread: nothing of them is dispatched until it returns.
            rebuild.rebuild(starts);
            ledger.covered(LedgerRebuild.names(starts.keySet()));
            starts.keySet().forEach(this::release);
        } catch (RuntimeException e) {
            LOG.warn("ledger rebuild of {} failed ({}); they stay paused and it is tried again in {}", starts.keySet(),
                    e.toString(), CHECK);
            hold(starts.keySet());
        }
    }

    private void hold(Collection<TopicPartition> partitions) {
        vouched.removeAll(partitions);
        consumer.pause(partitions);
        partitions.forEach(pauses::block);
        waiting.addAll(partitions);
    }

    private void release(TopicPartition tp) {
        pauses.unblock(tp);
        waiting.remove(tp);
        vouched.add(tp);
    }

    /** On the checker's thread: whether the ledger has lost the marks of partitions this worker holds. */
    private void lookForLoss() {
        List<TopicPartition> held = assignment.stream().filter(vouched::contains).toList();
        if (held.isEmpty() || lost) {
            return;
        }
        try {
            Set<String> uncovered = ledger.uncovered(LedgerRebuild.names(held));
            if (!uncovered.isEmpty()) {
                LOG.warn("the ledger no longer covers {} (a new or damaged Hazelcast cluster): rebuilding it", uncovered);
                lost = true;
            }
        } catch (RuntimeException e) {
            // Checked again shortly.
        }
    }

    private record Positions(Map<TopicPartition, OffsetAndMetadata> offsets, Map<TopicPartition, Long> ends,
            Map<TopicPartition, Long> beginning) {
        Long committed(TopicPartition tp) {
            OffsetAndMetadata o = offsets.get(tp);
            return o == null ? null : o.offset();
        }

        OptionalLong mark(TopicPartition tp) {
            OffsetAndMetadata o = offsets.get(tp);
            return o == null ? OptionalLong.empty() : Commits.readMark(o.metadata());
        }
    }

    private Positions positions(Collection<TopicPartition> partitions) {
        Set<TopicPartition> set = new HashSet<>(partitions);
        Map<TopicPartition, OffsetAndMetadata> committed = new HashMap<>(consumer.committed(set, KAFKA_WAIT));
        committed.values().removeIf(java.util.Objects::isNull);
        return new Positions(committed, consumer.endOffsets(set, KAFKA_WAIT), consumer.beginningOffsets(set, KAFKA_WAIT));
    }

    @Override
    public void close() {
        checker.shutdownNow();
    }
}
