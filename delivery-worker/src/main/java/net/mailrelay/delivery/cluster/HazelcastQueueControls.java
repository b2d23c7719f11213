package net.mailrelay.delivery.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.protocol.cluster.Seal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds and per-message orders in Hazelcast maps: the admin API writes them on any member, every worker
 * reads them before an attempt.
 *
 * <p>Every worker keeps the names of the held destinations and of the messages with an order in memory,
 * kept current by entry listeners, so that an attempt asks the cluster nothing in the common case: a
 * destination or message not named there goes ahead at once. A name found there is confirmed with the
 * key's owner before it counts (a get sees a remove that has returned), so that a release is seen at
 * once: a release removes the hold and then asks for a retry now, and the worker that acts on that
 * request must not see a stale hold (it would put the mail back on the longest tier for another hour).
 * A new hold or order reaches a worker with its event, within milliseconds; and each retry-now request
 * (which a release and an order send) makes the worker read both key sets again before it acts on the
 * request, so that an order's event overtaken by its retry request's is not missed. Holds have no time
 * to live (held mail stays held until released, as in Postfix's hold queue); orders live as long as a
 * message can. Both sets stay small: one entry per administrator's command.
 *
 * <p>An order is {@link Seal sealed}: a delete order an outsider wrote into Hazelcast would drop mail
 * silently, so one that does not open is ignored. A forged hold only delays mail, and shows in the
 * queue summary.
 */
public final class HazelcastQueueControls implements QueueControls {

    private static final Logger LOG = LoggerFactory.getLogger(HazelcastQueueControls.class);
    /** Destination (lower case) to the time it was put on hold. */
    public static final String HELD = "mailrelay.held";
    /** Queue id to FAIL or DELETE. */
    public static final String ORDERS = "mailrelay.orders";

    private final IMap<String, Long> held;
    private final IMap<String, String> orders;
    private final HazelcastRetryRequests retries;
    private final Duration orderLifetime;
    private final Clock clock;
    private final Seal seal;
    /** Names of the held destinations and of the messages with an order, as their listeners last heard. */
    private final MapCopy<Long> heldNames;
    private final MapCopy<String> orderNames;

    /**
     * @param retries how a release gets the held mail going at once
     * @param orderLifetime how long an order is kept: the queue lifetime, after which no record of the message is left
     */
    public HazelcastQueueControls(HazelcastInstance hazelcast, Seal seal, HazelcastRetryRequests retries,
            Duration orderLifetime, Clock clock) {
        this.seal = seal;
        this.held = hazelcast.getMap(HELD);
        this.orders = hazelcast.getMap(ORDERS);
        this.retries = retries;
        this.orderLifetime = orderLifetime;
        this.clock = clock;
        this.heldNames = new MapCopy<>(held, false);
        this.orderNames = new MapCopy<>(orders, false);
        retries.beforeRequest(this::refresh);
    }

    /** Reads both key sets again: what the listeners may not have told yet. Best effort. */
    void refresh() {
        heldNames.reload();
        orderNames.reload();
    }


    @Override
    public Order order(String queueId) {
        if (!orderNames.contains(queueId)) {
            return null;
        }
        try {
            String o = orders.get(queueId);
            if (o == null) {
                orderNames.remove(queueId);
                return null;
            }
            String order = seal.open(ORDERS, queueId, o, clock.millis());
            if (order == null) {
                LOG.warn("{}: ignoring an order this cluster did not seal, or one past its lifetime (who else can reach "
                        + "Hazelcast? docs/queue.md)", queueId);
                return null;
            }
            return Order.valueOf(order);
        } catch (RuntimeException e) {
            return null; // soft state: without the map the message is attempted as usual
        }
    }

    @Override
    public boolean held(String destination) {
        String key = key(destination);
        if (!heldNames.contains(key)) {
            return false;
        }
        try {
            if (held.containsKey(key)) {
                return true;
            }
            heldNames.remove(key);
            return false;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Puts a destination on hold; returns when it was put on hold (earlier, when it already was). */
    public long hold(String destination) {
        long now = clock.millis();
        Long since = held.putIfAbsent(key(destination), now);
        heldNames.added(key(destination));
        if (since == null) {
            LOG.info("{}: placed on hold by the administrator", key(destination));
        }
        return since == null ? now : since;
    }

    /**
     * Takes a destination off hold and asks every worker to retry its mail now (Postfix's
     * {@code postsuper -H} followed by {@code postqueue -s}); false when it was not held.
     */
    public boolean release(String destination) {
        if (held.remove(key(destination)) == null) {
            return false;
        }
        LOG.info("{}: released from hold by the administrator", key(destination));
        retries.request(key(destination));
        return true;
    }

    /** The destinations on hold and since when, sorted by name. */
    public Map<String, Long> holds() {
        return new TreeMap<>(held);
    }

    /** Orders a message failed or deleted the next time a worker reads it. */
    public void order(String queueId, Order order) {
        orders.set(queueId, seal.seal(ORDERS, queueId, order.name(), clock.millis() + orderLifetime.toMillis()),
                orderLifetime.toMillis(), TimeUnit.MILLISECONDS);
        orderNames.added(queueId);
        LOG.info("{}: {} requested by the administrator", queueId, order == Order.FAIL ? "failure" : "deletion");
    }

    private static String key(String destination) {
        return destination.toLowerCase(Locale.ROOT);
    }
}
