package net.mailrelay.delivery.attempt;

/**
 * The administrator's say over queued mail, as a delivery sees it: destinations on hold (Postfix's
 * {@code postsuper -h}, KumoMTA's {@code kcli suspend}) and orders to fail or delete one message
 * ({@code postsuper -f} and {@code -d}). Soft state: when the answer cannot be had, mail goes ahead.
 */
public interface QueueControls {

    /** What the administrator wants done with one message the next time a worker reads it. */
    enum Order {
        /** Fail every remaining recipient (5.0.0) and tell the sender, as NOTIFY asks. */
        FAIL,
        /** Drop the message without a DSN. */
        DELETE
    }

    /** The order for this queue id, or null when there is none. */
    Order order(String queueId);

    /** Whether mail for this destination (a recipient domain, lower case) is on hold. */
    boolean held(String destination);

    QueueControls NONE = new QueueControls() {
        @Override
        public Order order(String queueId) {
            return null;
        }

        @Override
        public boolean held(String destination) {
            return false;
        }
    };
}
