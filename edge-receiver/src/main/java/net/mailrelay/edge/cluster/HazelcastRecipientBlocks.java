package net.mailrelay.edge.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.replicatedmap.ReplicatedMap;
import net.mailrelay.edge.policy.RecipientBlocks;
import net.mailrelay.protocol.record.SuppressionEntry;

/**
 * The suppression list as the edge sees it: the workers keep it in a Hazelcast replicated map
 * ({@link SuppressionEntry#CACHE_MAP}), which every member holds in memory, so a lookup never leaves the
 * process and is safe on the event loop.
 */
public final class HazelcastRecipientBlocks implements RecipientBlocks {

    private final ReplicatedMap<String, String> entries;

    public HazelcastRecipientBlocks(HazelcastInstance hazelcast) {
        this.entries = hazelcast.getReplicatedMap(SuppressionEntry.CACHE_MAP);
    }

    @Override
    public String reason(String address) {
        try {
            return SuppressionEntry.reasonIfActive(entries.get(SuppressionEntry.key(address)), System.currentTimeMillis());
        } catch (RuntimeException e) {
            return null;
        }
    }
}
