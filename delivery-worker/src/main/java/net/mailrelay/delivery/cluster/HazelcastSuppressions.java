package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.replicatedmap.ReplicatedMap;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.queue.SuppressionFeed;
import net.mailrelay.protocol.record.SuppressionEntry;

/**
 * The suppression list's cache: a Hazelcast replicated map, so that every member (workers and edges)
 * answers from memory without a network call. Entries vanish when they expire (their time to live).
 * The map and its value format are {@link SuppressionEntry#CACHE_MAP}'s.
 */
public final class HazelcastSuppressions implements Suppressions, SuppressionFeed.Sink {

    private final ReplicatedMap<String, String> entries;

    public HazelcastSuppressions(HazelcastInstance hazelcast) {
        this.entries = hazelcast.getReplicatedMap(SuppressionEntry.CACHE_MAP);
    }

    @Override
    public String reason(String address) {
        try {
            return SuppressionEntry.reasonIfActive(entries.get(SuppressionEntry.key(address)), System.currentTimeMillis());
        } catch (RuntimeException e) {
            return null; // soft state: without the cache, mail goes ahead
        }
    }

    @Override
    public int size() {
        try {
            return entries.size();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    @Override
    public void put(SuppressionEntry e) {
        long ttl = e.expiresAtMillis() - System.currentTimeMillis();
        if (ttl > 0) {
            entries.put(SuppressionEntry.key(e.address()), e.cacheValue(), ttl, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void remove(String key) {
        entries.remove(key);
    }
}
