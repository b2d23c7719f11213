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

    private final Map<String, BooleanSupplier> checks;
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
        timer.scheduleWithFixedDelay(this::refresh, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void refresh() {
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
                LOG.warn("{} is {}", c.getKey(), up ? "reachable again" : "not reachable: this process is not ready");
            }
            all &= up;
        }
        ready = all;
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
