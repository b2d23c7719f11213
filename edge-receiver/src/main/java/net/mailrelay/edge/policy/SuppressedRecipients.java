package net.mailrelay.edge.policy;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import net.mailrelay.protocol.record.SuppressionEntry;

/**
 * The suppression list as this edge holds it, in its own memory: fed from the compacted topic
 * {@code mail.suppression} (by the same feed the workers use), not read from Hazelcast. An edge is a
 * lite member and holds no Hazelcast data, and what it reads from Kafka no outsider on port 5701 can
 * forge.
 */
public final class SuppressedRecipients implements RecipientBlocks {

    private final Map<String, String> entries = new ConcurrentHashMap<>();

    public void put(SuppressionEntry e) {
        entries.put(SuppressionEntry.key(e.address()), e.cacheValue());
    }

    /** @param key the topic key, {@link SuppressionEntry#key} of the address */
    public void remove(String key) {
        entries.remove(key);
    }

    @Override
    public String reason(String address) {
        return SuppressionEntry.reasonIfActive(entries.get(SuppressionEntry.key(address)), System.currentTimeMillis());
    }

    public int size() {
        return entries.size();
    }
}
