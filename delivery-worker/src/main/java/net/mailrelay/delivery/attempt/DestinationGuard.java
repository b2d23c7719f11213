package net.mailrelay.delivery.attempt;

/**
 * What the whole cluster knows about a destination (Postfix's qmgr per-destination state, but shared):
 * whether it is suspended after repeated connection-level failures, and whether it is over its
 * message rate. Soft state: if it cannot be asked, mail goes ahead.
 */
public interface DestinationGuard {

    /** Why deliveries to this destination are suspended, or null when they are not. */
    String suspended(String destination);

    /** Counts one message towards the destination's rate; false when it is over the rate. */
    boolean withinRate(String destination);

    /** A session could not be had (no connection, greeting refused, lost or timed out). */
    void failed(String destination, String reason);

    /** A session got as far as the transaction: the destination is well. */
    void succeeded(String destination);

    /** How many destinations are suspended now, across the cluster (for metrics); 0 when unknown. */
    default int suspendedCount() {
        return 0;
    }

    /** No shared state: nothing is ever suspended or limited. */
    DestinationGuard NONE = new DestinationGuard() {
        @Override
        public String suspended(String destination) {
            return null;
        }

        @Override
        public boolean withinRate(String destination) {
            return true;
        }

        @Override
        public void failed(String destination, String reason) {
            // nothing is remembered
        }

        @Override
        public void succeeded(String destination) {
            // nothing is remembered
        }
    };
}
