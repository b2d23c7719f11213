package net.mailrelay.delivery.attempt;

import net.mailrelay.protocol.envelope.QueueId;

/**
 * The cluster's memory of which recipients of which message have been delivered, so that a record
 * read twice (after a crash or a rebalance) is not delivered twice. It is soft state: losing it may
 * cost a duplicate, never a message.
 */
public interface RecipientLedger {

    boolean isDelivered(QueueId queueId, String recipient);

    void markDelivered(QueueId queueId, String recipient);

    /**
     * Drops the memory of a delivered recipient once the record that carried it can no longer be read
     * again (its offset is committed). Best effort; called off the delivery path, so it may wait.
     */
    default void forget(QueueId queueId, String recipient) {
    }

    /**
     * Claims the recipient for one delivery about to start. Returns the claim's token, or null when
     * another delivery holds the claim (on any worker, this one included: it is delivering this
     * recipient right now). A claim held by a worker that has died is taken over.
     */
    String claim(QueueId queueId, String recipient);

    /** Gives the claim up once the attempt is over. */
    void release(QueueId queueId, String recipient, String token);
}
