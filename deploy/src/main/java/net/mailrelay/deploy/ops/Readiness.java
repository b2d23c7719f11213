package net.mailrelay.deploy.ops;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the readiness checks (Kafka answers, Hazelcast joined) on a timer of its own and keeps their last
 * results, so that asking is free: the edge asks on its event loop for every new connection, and a check
 * such as Kafka's may take seconds to fail.
 */
public final class Readiness implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Readiness.class);

    private volatile Map<String, BooleanSupplier> checks;
    private final Map<String, Boolean> last = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;
    private volatile boolean ready;

    /** Runs every check once before it returns, then every {@code interval}. */
    public Readiness(Map<String, BooleanSupplier> checks, Duration interval) {
        this.checks = new LinkedHashMap<>(checks);
        refresh();
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "readiness");
            t.setDaemon(true);
            return t;
        });
        // Every interval while ready; four times a second while not, so that a starting process is ready
        // as soon as its last part is, not up to an interval later.
        long every = Math.min(QUICK.toMillis(), interval.toMillis());
        timer.scheduleWithFixedDelay(() -> {
            if (!ready || System.nanoTime() - refreshedAt >= interval.toNanos()) {
                refresh();
            }
        }, every, every, TimeUnit.MILLISECONDS);
    }

    private static final Duration QUICK = Duration.ofMillis(250);
    private volatile long refreshedAt;

    private synchronized void refresh() {
        boolean all = true;
        for (Map.Entry<String, BooleanSupplier> c : checks.entrySet()) {
            boolean up;
            try {
                up = c.getValue().getAsBoolean();
            } catch (RuntimeException e) {
                up = false;
            }
            Boolean before = last.put(c.getKey(), up);
            if (before != null && before != up) {
                if (up) {
                    LOG.info("{} is ready", c.getKey());
                } else {
                    LOG.warn("{} is not ready: neither is this process", c.getKey());
                }
            }
            all &= up;
        }
        ready = all;
        refreshedAt = System.nanoTime();
    }

    /**
     * Adds a check of a part started after this (the edge's Kafka transactions) and runs them all at
     * once. Before {@link #cached} is asked, so that the health endpoint lists it.
     */
    public synchronized void add(String name, BooleanSupplier check) {
        Map<String, BooleanSupplier> m = new LinkedHashMap<>(checks);
        m.put(name, check);
        checks = m;
        refresh();
    }

    /**
     * Runs the checks until all pass or the time is up, and says whether they did: a starting process
     * takes no mail before its parts can carry it, and its start does not return before (bounded, so that
     * a process whose broker is away still starts, not ready, and says why).
     */
    public boolean await(Duration atMost) throws InterruptedException {
        long until = System.nanoTime() + atMost.toNanos();
        refresh();
        while (!ready && System.nanoTime() < until) {
            Thread.sleep(50);
            refresh();
        }
        return ready;
    }

    /** The names of the checks that failed last. */
    public java.util.List<String> failing() {
        return checks.keySet().stream().filter(k -> !last.getOrDefault(k, false)).toList();
    }

    public boolean ready() {
        return ready;
    }

    /** The checks, each answering its last result. */
    public Map<String, BooleanSupplier> cached() {
        Map<String, BooleanSupplier> m = new LinkedHashMap<>();
        checks.keySet().forEach(k -> m.put(k, () -> last.getOrDefault(k, false)));
        return m;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
