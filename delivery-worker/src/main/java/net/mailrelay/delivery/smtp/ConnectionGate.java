package net.mailrelay.delivery.smtp;

import java.time.Duration;

/**
 * Cluster-wide limits on connections per destination (Postfix default_destination_concurrency_limit,
 * but counted across every worker). A connection holds a lease from the moment it is opened until it
 * is closed, idle time in the pool included; a worker that dies loses its leases when they expire.
 */
public interface ConnectionGate {

    /** A held connection slot; release it exactly once. */
    interface Lease {
        void release();
    }

    /** A slot for a new connection to this destination if one is free now, else null. */
    Lease tryAcquire(String destination);

    /** No limit at all. */
    ConnectionGate NONE = destination -> () -> {
    };

    /** How long a delivery waits for a slot (or a reusable connection) before it is postponed. */
    static Duration defaultWait() {
        return Duration.ofSeconds(10);
    }
}
