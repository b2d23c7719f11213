package net.mailrelay.edge.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import java.io.Serializable;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import net.mailrelay.edge.ClientGuard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-client counters in a Hazelcast map shared by every edge: connections per minute (Postfix
 * smtpd_client_connection_rate_limit) and authentication failures per window. Each counter is one map
 * entry per client and time window, incremented atomically by an entry processor on the partition that
 * owns it, and gone when its window has passed (entry TTL). No CP subsystem is needed.
 */
public final class HazelcastClientGuard implements ClientGuard {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastClientGuard.class);
    public static final String MAP = "mailrelay.edge.clients";

    private final IMap<String, Long> counters;
    private final int connectionsPerMinute;
    private final int maxAuthFailures;
    private final Duration authWindow;
    private final Clock clock;

    /**
     * @param connectionsPerMinute new connections a client may open per minute across the cluster; 0 = no limit
     * @param maxAuthFailures failed AUTH attempts per window before the client is turned away; 0 = no limit
     */
    public HazelcastClientGuard(HazelcastInstance hazelcast, int connectionsPerMinute, int maxAuthFailures,
            Duration authWindow, Clock clock) {
        this.counters = hazelcast.getMap(MAP);
        this.connectionsPerMinute = connectionsPerMinute;
        this.maxAuthFailures = maxAuthFailures;
        this.authWindow = authWindow;
        this.clock = clock;
    }

    @Override
    public CompletionStage<Boolean> connectionAllowed(InetAddress client) {
        if (connectionsPerMinute <= 0) {
            return CompletableFuture.completedFuture(true);
        }
        long minute = clock.millis() / 60_000;
        return increment("c " + client.getHostAddress() + " " + minute, Duration.ofMinutes(2))
                .thenApply(n -> n <= connectionsPerMinute);
    }

    @Override
    public CompletionStage<Boolean> authBlocked(InetAddress client) {
        if (maxAuthFailures <= 0) {
            return CompletableFuture.completedFuture(false);
        }
        // Soft state, as for connections: an edge is a lite member, and with no worker in the cluster there is
        // nowhere to keep the count. AUTH then goes on without it rather than failing for everyone.
        return counters.getAsync(authKey(client)).thenApply(n -> n != null && n >= maxAuthFailures).exceptionally(e -> false);
    }

    @Override
    public void authFailed(InetAddress client) {
        if (maxAuthFailures > 0) {
            increment(authKey(client), authWindow.multipliedBy(2)).whenComplete((n, e) -> {
                if (e != null) {
                    LOG.warn("could not count an authentication failure of [{}]: {}", client.getHostAddress(), e.toString());
                }
            });
        }
    }

    private String authKey(InetAddress client) {
        return "a " + client.getHostAddress() + " " + clock.millis() / authWindow.toMillis();
    }

    private CompletionStage<Long> increment(String key, Duration ttl) {
        return counters.submitToKey(key, new Increment(ttl.toMillis()));
    }

    /** Adds one and sets the entry's time to live; runs on the member that owns the key. */
    static final class Increment implements EntryProcessor<String, Long, Long>, Serializable {
        private static final long serialVersionUID = 1L;
        private final long ttlMillis;

        Increment(long ttlMillis) {
            this.ttlMillis = ttlMillis;
        }

        @Override
        public Long process(Map.Entry<String, Long> entry) {
            long n = (entry.getValue() == null ? 0 : entry.getValue()) + 1;
            ((ExtendedMapEntry<String, Long>) entry).setValue(n, ttlMillis, TimeUnit.MILLISECONDS);
            return n;
        }
    }
}
