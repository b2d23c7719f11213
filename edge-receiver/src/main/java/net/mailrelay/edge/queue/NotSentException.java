package net.mailrelay.edge.queue;

import java.util.Locale;

/**
 * The message was never handed to Kafka, so no copy of it can turn up later: the client's retry is the
 * only one. The edge answers it 451 4.3.0 like any publish that failed.
 */
public final class NotSentException extends RuntimeException {

    /** Why; {@link #tag()} is the {@code reason} tag of {@code mailrelay.edge.publish.refused}. */
    public enum Reason {
        /** The publish queue's byte budget is spent: answered at once, the event loop never waits. */
        QUEUE_FULL,
        /** It waited longer than the queue allows for the producer, which is stuck on a broker. */
        QUEUE_WAIT,
        /** The edge is stopping. */
        STOPPING;

        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Reason reason;

    NotSentException(Reason reason, String detail) {
        super(detail, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    @Override
    public String toString() {
        return "not sent to Kafka: " + getMessage();
    }
}
