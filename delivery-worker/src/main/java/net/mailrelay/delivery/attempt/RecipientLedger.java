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
}
