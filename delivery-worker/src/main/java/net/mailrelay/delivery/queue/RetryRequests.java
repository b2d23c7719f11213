package net.mailrelay.delivery.queue;

import java.util.Map;

/**
 * Operators' requests to retry deferred mail now (Postfix {@code postqueue -s site}, {@code -f} for
 * all): destination (a recipient domain, or {@code *}) to the time of the request.
 */
public interface RetryRequests {

    /** The requests known now; a newer time for the same destination is a new request. */
    Map<String, Long> current();

    RetryRequests NONE = Map::of;
}
