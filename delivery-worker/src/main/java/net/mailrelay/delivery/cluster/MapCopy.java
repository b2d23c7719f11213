package net.mailrelay.delivery.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryEvictedListener;
import com.hazelcast.map.listener.EntryExpiredListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A worker's copy of a small Hazelcast map, kept current by an entry listener, for reads that must not
 * cost a cluster call. It lags the map by an event's delivery (milliseconds), and may miss an event
 * while the member is cut off: callers confirm with the map what matters ({@link #reload} reads it
 * again). Without values it keeps the keys alone.
 */
final class MapCopy<V> {

    private static final Object PRESENT = new Object();

    private final IMap<String, V> map;
    private final boolean values;
    private final Map<String, Object> entries = new ConcurrentHashMap<>();

    MapCopy(IMap<String, V> map, boolean values) {
        this.map = map;
        this.values = values;
        map.addEntryListener(new Listener(), values);
        reload();
    }

    /** Adds what the map holds now (best effort: without the cluster, the copy stays as it is). */
    void reload() {
        try {
            if (values) {
                map.forEach(entries::put);
            } else {
                map.keySet().forEach(k -> entries.put(k, PRESENT));
            }
        } catch (RuntimeException e) {
            // Events bring the rest when the cluster is back.
        }
    }

    boolean contains(String key) {
        return entries.containsKey(key);
    }

    @SuppressWarnings("unchecked")
    V get(String key) {
        Object v = entries.get(key);
        return v == PRESENT ? null : (V) v;
    }

    /** A key this member has just written: known here at once, not when its event comes. */
    void added(String key) {
        entries.putIfAbsent(key, PRESENT);
    }

    /** A value this member has just written: known here at once (the event that follows carries the same or a later one). */
    void written(String key, V value) {
        entries.put(key, value);
    }

    void remove(String key) {
        entries.remove(key);
    }

    @SuppressWarnings("unchecked")
    Collection<V> values() {
        return values ? (Collection<V>) List.copyOf(entries.values()) : List.of();
    }

    private final class Listener implements EntryAddedListener<String, V>, EntryUpdatedListener<String, V>,
            EntryRemovedListener<String, V>, EntryExpiredListener<String, V>, EntryEvictedListener<String, V> {
        @Override
        public void entryAdded(EntryEvent<String, V> event) {
            entries.put(event.getKey(), values && event.getValue() != null ? event.getValue() : PRESENT);
        }

        @Override
        public void entryUpdated(EntryEvent<String, V> event) {
            entryAdded(event);
        }

        @Override
        public void entryRemoved(EntryEvent<String, V> event) {
            entries.remove(event.getKey());
        }

        @Override
        public void entryExpired(EntryEvent<String, V> event) {
            entries.remove(event.getKey());
        }

        @Override
        public void entryEvicted(EntryEvent<String, V> event) {
            entries.remove(event.getKey());
        }
    }
}
