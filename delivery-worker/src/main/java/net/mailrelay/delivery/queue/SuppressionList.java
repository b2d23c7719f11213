package net.mailrelay.delivery.queue;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import net.mailrelay.delivery.attempt.Suppressions;
import net.mailrelay.protocol.record.SuppressionEntry;

/**
 * The suppression list as this worker holds it, in its own memory, fed from the compacted topic
 * {@code mail.suppression} by its {@link SuppressionFeed}, as the edges hold theirs. Not in Hazelcast:
 * any member could write a suppression the administrator had removed back into a shared map, and bounce
 * mail to that address (issue 29). Kafka authenticates the topic's writers; port 5701 does not. A
 * worker that starts fresh fails nothing until its feed has read the topic: soft state, the mail is
 * attempted as without the list.
 */
public final class SuppressionList implements Suppressions, SuppressionFeed.Sink {

    private final Map<String, String> entries = new ConcurrentHashMap<>();

    @Override
    public void put(SuppressionEntry e) {
        if (e.expiresAtMillis() > System.currentTimeMillis()) {
            entries.put(SuppressionEntry.key(e.address()), e.cacheValue());
        }
    }

    /** @param key the topic key, {@link SuppressionEntry#key} of the address */
    @Override
    public void remove(String key) {
        entries.remove(key);
    }

    @Override
    public String reason(String address) {
        String key = SuppressionEntry.key(address);
        String value = entries.get(key);
        if (value == null) {
            return null;
        }
        String reason = SuppressionEntry.reasonIfActive(value, System.currentTimeMillis());
        if (reason == null) {
            entries.remove(key, value); // expired
        }
        return reason;
    }

    @Override
    public int size() {
        return entries.size();
    }
}
