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
 * <p>Both are plain {@link IMap}s read with a get, not replicated maps or near caches: a release removes
 * the hold and then asks for a retry now, and the worker that acts on that request must not see a stale
 * copy of the hold (it would put the mail back on the longest tier for another hour). A get goes to the
 * key's owner, so it sees a remove that has returned. Holds have no time to live (held mail stays held
 * until released, as in Postfix's hold queue); orders live as long as a message can.
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
    }

    @Override
    public Order order(String queueId) {
        try {
            String o = orders.get(queueId);
            if (o == null) {
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
        try {
            return held.containsKey(key(destination));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Puts a destination on hold; returns when it was put on hold (earlier, when it already was). */
    public long hold(String destination) {
        long now = clock.millis();
        Long since = held.putIfAbsent(key(destination), now);
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
        LOG.info("{}: {} requested by the administrator", queueId, order == Order.FAIL ? "failure" : "deletion");
    }

    private static String key(String destination) {
        return destination.toLowerCase(Locale.ROOT);
    }
}
