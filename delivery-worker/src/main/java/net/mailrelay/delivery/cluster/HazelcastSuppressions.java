package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.replicatedmap.ReplicatedMap;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.delivery.queue.SuppressionFeed;
import net.mailrelay.protocol.cluster.Seal;
import net.mailrelay.protocol.record.SuppressionEntry;

/**
 * The suppression list's cache: a Hazelcast replicated map, so that every member (workers and edges)
 * answers from memory without a network call. Entries vanish when they expire (their time to live).
 * The map and its value format are {@link SuppressionEntry#CACHE_MAP}'s, each value {@link Seal sealed}:
 * an entry an outsider wrote, which would fail mail to its address, is read as absent.
 */
public final class HazelcastSuppressions implements Suppressions, SuppressionFeed.Sink {

    private final ReplicatedMap<String, String> entries;
    private final Seal seal;

    public HazelcastSuppressions(HazelcastInstance hazelcast, Seal seal) {
        this.seal = seal;
        this.entries = hazelcast.getReplicatedMap(SuppressionEntry.CACHE_MAP);
    }

    @Override
    public String reason(String address) {
        try {
            String key = SuppressionEntry.key(address);
            return SuppressionEntry.reasonIfActive(seal.open(key, entries.get(key)), System.currentTimeMillis());
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
            String key = SuppressionEntry.key(e.address());
            entries.put(key, seal.seal(key, e.cacheValue()), ttl, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void remove(String key) {
        entries.remove(key);
    }
}
