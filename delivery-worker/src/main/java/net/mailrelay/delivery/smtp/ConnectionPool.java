package net.mailrelay.delivery.smtp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Idle, set-up connections kept for reuse (Postfix's scache): keyed by server address and setup, so a
 * connection is only reused for mail that would have set it up the same way. A connection is kept for
 * at most {@code maxIdle} between transactions, carries at most {@code maxTransactions}, and is retired
 * after {@code maxAge}.
 */
final class ConnectionPool {

    record Key(String host, InetSocketAddress address, ConnectionSpec spec) {
    }

    private final Map<Key, Deque<SmtpConnection>> idle = new ConcurrentHashMap<>();
    private final int maxTransactions;
    private final Duration maxIdle;
    private final Duration maxAge;

    ConnectionPool(int maxTransactions, Duration maxIdle, Duration maxAge) {
        this.maxTransactions = maxTransactions;
        this.maxIdle = maxIdle;
        this.maxAge = maxAge;
    }

    /** An idle connection ready for a transaction, or null. */
    SmtpConnection take(Key key) {
        Deque<SmtpConnection> q = idle.get(key);
        if (q == null) {
            return null;
        }
        SmtpConnection c;
        while ((c = q.pollFirst()) != null) {
            if (c.reusable(maxTransactions, maxAge) && c.idleNanos() < maxIdle.toNanos()) {
                return c;
            }
            c.quit();
        }
        return null;
    }

    /** After a transaction: keep the connection for the next one, or say goodbye. */
    void give(Key key, SmtpConnection c) {
        if (maxIdle.isZero() || !c.reusable(maxTransactions, maxAge)) {
            c.quit();
            return;
        }
        idle.computeIfAbsent(key, k -> new ConcurrentLinkedDeque<>()).addFirst(c);
    }

    /**
     * Closes connections idle for too long; called periodically. A connection is quit only by whoever
     * removed it from its queue: {@link #take} may hand the same one to a delivery at the same moment,
     * and quitting a connection in the middle of that delivery's transaction would cut it off.
     */
    void reap() {
        idle.values().forEach(q -> {
            for (SmtpConnection c : q) {
                boolean stale = c.idleNanos() >= maxIdle.toNanos() || !c.reusable(maxTransactions, maxAge);
                if (stale && q.remove(c)) {
                    c.quit();
                }
            }
        });
    }

    void closeAll() {
        idle.values().forEach(q -> {
            SmtpConnection c;
            while ((c = q.pollFirst()) != null) {
                c.quit();
            }
        });
    }
}
