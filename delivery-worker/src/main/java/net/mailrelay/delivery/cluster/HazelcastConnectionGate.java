package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import java.io.Serializable;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import net.mailrelay.delivery.smtp.ConnectionGate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connection slots per destination, counted across the cluster in a Hazelcast map: a destination with
 * limit L has slot keys {@code dest#0} to {@code dest#L-1}, and holding a connection means owning one
 * (a {@code putIfAbsent} with a time to live). Held slots are renewed while their connections live, so
 * the slots of a worker that dies come free when their lease runs out. There is no CP subsystem in
 * the community edition; this needs none.
 */
public final class HazelcastConnectionGate implements ConnectionGate, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastConnectionGate.class);
    public static final String MAP = "mailrelay.destination.slots";

    private final IMap<String, String> slots;
    private final int defaultLimit;
    private final Map<String, Integer> limits;
    private final Duration lease;
    private final String owner = UUID.randomUUID().toString();
    private final AtomicLong ids = new AtomicLong();
    private final Set<Held> held = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService renewer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "slot-lease-renewal");
        t.setDaemon(true);
        return t;
    });

    private record Held(String key, String value) {
    }

    /**
     * @param defaultLimit connections per destination (Postfix default_destination_concurrency_limit: 20)
     * @param limits per-destination overrides, e.g. orange.fr=2
     * @param lease how long a dead worker's slots stay taken
     */
    public HazelcastConnectionGate(HazelcastInstance hazelcast, int defaultLimit, Map<String, Integer> limits, Duration lease) {
        this.slots = hazelcast.getMap(MAP);
        this.defaultLimit = defaultLimit;
        Map<String, Integer> lower = new ConcurrentHashMap<>();
        limits.forEach((d, n) -> lower.put(d.toLowerCase(Locale.ROOT), n));
        this.limits = Map.copyOf(lower);
        this.lease = lease;
        long every = Math.max(1, lease.toMillis() / 3);
        renewer.scheduleAtFixedRate(this::renew, every, every, TimeUnit.MILLISECONDS);
    }

    public int limit(String destination) {
        return limits.getOrDefault(destination.toLowerCase(Locale.ROOT), defaultLimit);
    }

    @Override
    public Lease tryAcquire(String destination) {
        int limit = limit(destination);
        String value = owner + "/" + ids.incrementAndGet();
        int start = ThreadLocalRandom.current().nextInt(limit);
        try {
            for (int i = 0; i < limit; i++) {
                String key = destination.toLowerCase(Locale.ROOT) + "#" + (start + i) % limit;
                if (slots.putIfAbsent(key, value, lease.toMillis(), TimeUnit.MILLISECONDS) == null) {
                    Held h = new Held(key, value);
                    held.add(h);
                    return () -> release(h);
                }
            }
            return null;
        } catch (RuntimeException e) {
            // Soft state: without the cluster's count, go ahead rather than stop all mail.
            LOG.warn("connection slots unavailable ({}); connecting to {} without a slot", e.toString(), destination);
            return () -> {
            };
        }
    }

    private void release(Held h) {
        if (held.remove(h)) {
            try {
                slots.remove(h.key(), h.value());
            } catch (RuntimeException e) {
                // The lease runs out by itself.
            }
        }
    }

    private void renew() {
        for (Held h : held) {
            try {
                Boolean still = slots.executeOnKey(h.key(), new Renew(h.value(), lease.toMillis()));
                if (!Boolean.TRUE.equals(still)) {
                    LOG.warn("lost the lease on connection slot {}", h.key());
                    held.remove(h);
                }
            } catch (RuntimeException e) {
                LOG.debug("could not renew slot {}: {}", h.key(), e.toString());
            }
        }
    }

    /** Extends the lease if the slot is still ours; runs on the member that owns the key. */
    static final class Renew implements EntryProcessor<String, String, Boolean>, Serializable {
        private static final long serialVersionUID = 1L;
        private final String value;
        private final long ttlMillis;

        Renew(String value, long ttlMillis) {
            this.value = value;
            this.ttlMillis = ttlMillis;
        }

        @Override
        public Boolean process(Map.Entry<String, String> entry) {
            if (!value.equals(entry.getValue())) {
                return false;
            }
            ((ExtendedMapEntry<String, String>) entry).setValue(value, ttlMillis, TimeUnit.MILLISECONDS);
            return true;
        }
    }

    @Override
    public void close() {
        renewer.shutdownNow();
        held.forEach(this::release);
    }
}
