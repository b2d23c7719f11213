package net.mailrelay.edge.policy;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Concurrent connections to this edge, in total and per client address (Postfix
 * smtpd_client_connection_count_limit, 50 by default). Clients in trusted networks are not counted
 * against the per-client limit, as Postfix exempts $mynetworks.
 */
public final class ConnectionLimits {

    public enum Admission { ADMITTED, TOO_MANY, TOO_MANY_FROM_CLIENT }

    private final int maxTotal;
    private final int maxPerClient;
    private final RelayPolicy policy;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    public ConnectionLimits(int maxTotal, int maxPerClient, RelayPolicy policy) {
        if (maxTotal < 1 || maxPerClient < 1) {
            throw new IllegalArgumentException("connection limits must be at least 1");
        }
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
        this.policy = policy;
    }

    /** Counts the connection if it is admitted; an admitted connection must be released once. */
    public Admission admit(InetAddress client) {
        if (total.incrementAndGet() > maxTotal) {
            total.decrementAndGet();
            return Admission.TOO_MANY;
        }
        int n = perClient.merge(client, 1, Integer::sum);
        if (n > maxPerClient && !policy.isTrusted(client)) {
            release(client);
            return Admission.TOO_MANY_FROM_CLIENT;
        }
        return Admission.ADMITTED;
    }

    public void release(InetAddress client) {
        total.decrementAndGet();
        perClient.computeIfPresent(client, (k, v) -> v <= 1 ? null : v - 1);
    }

    public int total() {
        return total.get();
    }
}
