package net.mailrelay.delivery.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.queue.RetryRequests;

/**
 * Retry-now requests in a Hazelcast map: any process may add one, and every worker learns of it
 * through an entry listener, so the poll loop reads a local copy and never waits on the cluster.
 */
public final class HazelcastRetryRequests implements RetryRequests, AutoCloseable {

    public static final String MAP = "mailrelay.retry-now";
    private static final Duration KEPT = Duration.ofHours(1);

    private final IMap<String, Long> requests;
    private final Map<String, Long> local = new ConcurrentHashMap<>();
    private final UUID listener;
    private final Clock clock;
    private final List<Runnable> beforeRequest = new CopyOnWriteArrayList<>();

    public HazelcastRetryRequests(HazelcastInstance hazelcast, Clock clock) {
        this.requests = hazelcast.getMap(MAP);
        this.clock = clock;
        Listener l = new Listener();
        this.listener = requests.addEntryListener(l, true);
        local.putAll(requests);
    }

    /** Asks every worker to retry now the deferred mail for this destination ("*" for all). */
    public void request(String destination) {
        requests.set(destination.toLowerCase(Locale.ROOT), clock.millis(), KEPT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Runs {@code task} on each request this worker hears of, before the request is visible to
     * {@link #current}: what the request was sent after (a release, an order) is read first.
     */
    public void beforeRequest(Runnable task) {
        beforeRequest.add(task);
    }

    @Override
    public Map<String, Long> current() {
        return Map.copyOf(local);
    }

    private final class Listener implements EntryAddedListener<String, Long>, EntryUpdatedListener<String, Long> {
        @Override
        public void entryAdded(EntryEvent<String, Long> event) {
            beforeRequest.forEach(Runnable::run);
            local.merge(event.getKey(), event.getValue(), Math::max);
        }

        @Override
        public void entryUpdated(EntryEvent<String, Long> event) {
            beforeRequest.forEach(Runnable::run);
            local.merge(event.getKey(), event.getValue(), Math::max);
        }
    }

    @Override
    public void close() {
        requests.removeEntryListener(listener);
    }
}
