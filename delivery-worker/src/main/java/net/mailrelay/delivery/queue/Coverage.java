package net.mailrelay.delivery.queue;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import net.mailrelay.delivery.ledger.RecipientLedger;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the ledger covering every partition this worker delivers from. When a partition is assigned,
 * and whenever the ledger turns out to have lost its marks (a new Hazelcast cluster, or a partition of
 * it lost with its backups), the partitions it cannot vouch for are rebuilt from the delivery log
 * ({@link LedgerRebuild}) before anything more of them is delivered. The rebuild, which may read for
 * minutes and ask Hazelcast calls that wait 30 s, runs on a thread of its own, as does the check for
 * lost marks: the poll thread only pauses the partitions it concerns, and keeps every covered partition
 * flowing. A rebuild that fails leaves its partitions paused and is tried again after a backoff (5 s,
 * doubling to 5 minutes), not on every pass of the poll loop as before. The rest runs on the poll thread.
 */
final class Coverage implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Coverage.class);
    private static final Duration CHECK = Duration.ofSeconds(5);
    private static final Duration KAFKA_WAIT = Duration.ofSeconds(30);
    private static final Duration MAX_BACKOFF = Duration.ofMinutes(5);

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
    /** The rebuild running on {@link #rebuilder}, and the partitions it holds paused; null when none runs. */
    private CompletableFuture<Void> running;
    private Set<TopicPartition> runningFor = Set.of();
    /** Of those, the ones the ledger covered already: released even when the rebuild of the others fails. */
    private final Set<TopicPartition> coveredAlready = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Set<TopicPartition> releasedEarly = new HashSet<>();
    private int failures;
    private long nextTry;
    private final ExecutorService rebuilder = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ledger-rebuild");
        t.setDaemon(true);
        return t;
    });
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
            hold(partitions);
            LOG.warn("the committed offsets of {} cannot be read ({}); their ledger is checked again in {}", partitions,
                    e.toString(), backoff());
            return;
        }
        partitions.forEach(tp -> commits.assigned(tp, p.committed(tp), p.mark(tp), p.ends.get(tp), clock.getAsLong()));
        cover(partitions, p);
    }

    /** From the poll loop: rebuilds what waits for it, or what the checker found uncovered. */
    void check() {
        collect();
        if (running != null || (!lost && waiting.isEmpty()) || clock.getAsLong() < nextTry) {
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
            hold(todo);
            LOG.warn("the committed offsets of {} cannot be read ({}); tried again in {}", todo, e.toString(), backoff());
        }
    }

    /** After a failure: when to try again, doubling from {@link #CHECK} to {@link #MAX_BACKOFF}. */
    private Duration backoff() {
        failures++;
        Duration wait = CHECK.multipliedBy(1L << Math.min(failures - 1, 10));
        wait = wait.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : wait;
        nextTry = clock.getAsLong() + wait.toMillis();
        return wait;
    }

    /** On the poll thread: the outcome of a rebuild that has ended, if one has. */
    private void collect() {
        if (running == null) {
            return;
        }
        Set<TopicPartition> held = consumer.assignment();
        // Those the ledger covers go on as soon as that is known, while the others are rebuilt.
        coveredAlready.stream().filter(tp -> held.contains(tp) && runningFor.contains(tp) && releasedEarly.add(tp))
                .toList().forEach(this::release);
        if (!running.isDone()) {
            return;
        }
        List<TopicPartition> stillHeld = runningFor.stream().filter(held::contains).toList();
        try {
            running.join();
            failures = 0;
            nextTry = 0;
            stillHeld.forEach(this::release);
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            stillHeld = stillHeld.stream().filter(tp -> !coveredAlready.contains(tp)).toList();
            hold(stillHeld);
            Throwable cause = e.getCause() == null ? e : e.getCause();
            LOG.warn("ledger rebuild of {} failed ({}); they stay paused, the other partitions go on, and it is tried "
                    + "again in {}", stillHeld, cause.toString(), backoff());
        } finally {
            running = null;
            runningFor = Set.of();
        }
    }

    /**
     * Pauses {@code partitions} and has the rebuilder find which the ledger does not cover and rebuild
     * those; {@link #collect} releases them once it is done. One rebuild at a time: partitions assigned
     * meanwhile wait for the next.
     */
    private void cover(Collection<TopicPartition> partitions, Positions p) {
        if (running != null) {
            hold(partitions);
            return;
        }
        Map<TopicPartition, LedgerRebuild.Start> candidates = new HashMap<>();
        for (TopicPartition tp : partitions) {
            Long from = p.committed(tp);
            candidates.put(tp, new LedgerRebuild.Start(from == null ? p.beginning.get(tp) : from, p.ends.get(tp), p.mark(tp)));
        }
        vouched.removeAll(partitions);
        consumer.pause(partitions);
        partitions.forEach(pauses::block);
        waiting.removeAll(partitions);
        runningFor = Set.copyOf(partitions);
        coveredAlready.clear();
        releasedEarly.clear();
        running = CompletableFuture.runAsync(() -> {
            Set<String> uncovered = ledger.uncovered(LedgerRebuild.names(candidates.keySet()));
            Map<TopicPartition, LedgerRebuild.Start> starts = new HashMap<>(candidates);
            starts.keySet().removeIf(tp -> !uncovered.contains(LedgerRebuild.name(tp)));
            candidates.keySet().stream().filter(tp -> !starts.containsKey(tp)).forEach(coveredAlready::add);
            if (!starts.isEmpty()) {
                rebuild.rebuild(starts);
                ledger.covered(LedgerRebuild.names(starts.keySet()));
            }
        }, rebuilder);
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
        rebuilder.shutdownNow();
    }
}
