package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import java.io.Serializable;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.DestinationGuard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Destination health and message rates in Hazelcast, shared by every worker. After {@code threshold}
 * consecutive connection-level failures a destination is suspended for {@code backoff}: every worker
 * defers its mail without connecting (Postfix's "dead destination", cluster-wide); one successful session
 * clears it. Rates are per-minute counters (entry processors on per-window keys with a time to live).
 *
 * <p>Every worker keeps a copy of the health map, kept current by an entry listener, so that an attempt
 * asks the cluster nothing about a healthy destination: whether a destination is suspended is read from
 * the copy, and a success clears the shared entry only when the copy has one. The copy lags the map by
 * an event's delivery (milliseconds): a suspension set a moment ago may let one more attempt through,
 * and a failure recorded a moment before a success may stay counted; both are soft state.
 */
public final class HazelcastDestinationGuard implements DestinationGuard {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastDestinationGuard.class);
    public static final String HEALTH = "mailrelay.destination.health";
    public static final String RATES = "mailrelay.destination.rates";

    /** A destination's recent connection trouble. */
    record Health(int failures, long suspendedUntil, String lastProblem) implements Serializable {
    }

    private final IMap<String, Health> health;
    private final IMap<String, Long> rates;
    private final int threshold;
    private final Duration backoff;
    private final Map<String, Integer> perMinute;
    private final Clock clock;
    /** The health map as its listener last heard. */
    private final MapCopy<Health> seen;

    /**
     * @param threshold consecutive failures before suspension; 0 never suspends
     * @param perMinute message rates per destination, e.g. gmail.com=600; unlisted destinations are unlimited
     */
    public HazelcastDestinationGuard(HazelcastInstance hazelcast, int threshold, Duration backoff,
            Map<String, Integer> perMinute, Clock clock) {
        this.health = hazelcast.getMap(HEALTH);
        this.rates = hazelcast.getMap(RATES);
        this.threshold = threshold;
        this.backoff = backoff;
        Map<String, Integer> lower = new java.util.HashMap<>();
        perMinute.forEach((d, n) -> lower.put(d.toLowerCase(Locale.ROOT), n));
        this.perMinute = Map.copyOf(lower);
        this.clock = clock;
        this.seen = new MapCopy<>(health, true);
    }


    @Override
    public String suspended(String destination) {
        if (threshold <= 0) {
            return null;
        }
        Health h = seen.get(key(destination));
        return h != null && h.suspendedUntil() > clock.millis() ? h.lastProblem() : null;
    }

    @Override
    public int suspendedCount() {
        long now = clock.millis();
        return (int) seen.values().stream().filter(h -> h.suspendedUntil() > now).count();
    }

    @Override
    public boolean withinRate(String destination) {
        Integer limit = perMinute.get(key(destination));
        if (limit == null) {
            return true;
        }
        try {
            long n = rates.executeOnKey(key(destination) + " " + clock.millis() / 60_000, new Count(120_000));
            return n <= limit;
        } catch (RuntimeException e) {
            return true;
        }
    }

    @Override
    public void failed(String destination, String reason) {
        if (threshold <= 0) {
            return;
        }
        try {
            Health h = health.executeOnKey(key(destination),
                    new Failure(threshold, backoff.toMillis(), clock.millis(), reason));
            seen.written(key(destination), h);
            if (h.failures() == threshold) {
                LOG.warn("destination {} suspended for {} after {} failures in a row: {}", destination, backoff,
                        threshold, reason);
            }
        } catch (RuntimeException e) {
            LOG.debug("could not record a failure of {}: {}", destination, e.toString());
        }
    }

    @Override
    public void succeeded(String destination) {
        if (threshold <= 0) {
            return;
        }
        try {
            // The copy keeps the common case (a healthy destination) free of cluster calls.
            String key = key(destination);
            if (!seen.contains(key)) {
                return;
            }
            Health cleared = health.remove(key);
            seen.remove(key); // also when its removal's event was missed
            if (cleared != null) {
                LOG.info("destination {} is reachable again", destination);
            }
        } catch (RuntimeException e) {
            LOG.debug("could not clear {}: {}", destination, e.toString());
        }
    }

    private static String key(String destination) {
        return destination.toLowerCase(Locale.ROOT);
    }

    /** One more failure; suspends at the threshold. Runs on the member that owns the key. */
    static final class Failure implements EntryProcessor<String, Health, Health>, Serializable {
        private static final long serialVersionUID = 1L;
        private final int threshold;
        private final long backoffMillis;
        private final long now;
        private final String reason;

        Failure(int threshold, long backoffMillis, long now, String reason) {
            this.threshold = threshold;
            this.backoffMillis = backoffMillis;
            this.now = now;
            this.reason = reason;
        }

        @Override
        public Health process(Map.Entry<String, Health> entry) {
            Health old = entry.getValue();
            boolean stillSuspended = old != null && old.suspendedUntil() > now;
            int failures = (old == null || (old.suspendedUntil() != 0 && !stillSuspended) ? 0 : old.failures()) + 1;
            long until = stillSuspended ? old.suspendedUntil() : failures >= threshold ? now + backoffMillis : 0;
            Health h = new Health(failures, until, reason);
            // Forgotten a while after the backoff: a destination that failed once long ago starts afresh.
            ((ExtendedMapEntry<String, Health>) entry).setValue(h, Math.max(backoffMillis * 2, 60_000), TimeUnit.MILLISECONDS);
            return h;
        }
    }

    /** Adds one to a counter that lives for {@code ttlMillis}. */
    static final class Count implements EntryProcessor<String, Long, Long>, Serializable {
        private static final long serialVersionUID = 1L;
        private final long ttlMillis;

        Count(long ttlMillis) {
            this.ttlMillis = ttlMillis;
        }

        @Override
        public Long process(Map.Entry<String, Long> entry) {
            long n = (entry.getValue() == null ? 0 : entry.getValue()) + 1;
            ((ExtendedMapEntry<String, Long>) entry).setValue(n, ttlMillis, TimeUnit.MILLISECONDS);
            return n;
        }
    }
}
