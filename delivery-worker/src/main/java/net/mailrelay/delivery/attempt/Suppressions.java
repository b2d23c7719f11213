package net.mailrelay.delivery.attempt;

/** The suppression list as the worker reads it: addresses that bounced hard lately. */
public interface Suppressions {

    /** The entry's reason when the address is suppressed now, else null. */
    String reason(String address);

    /** How many addresses are on the list (for metrics); 0 when unknown. */
    default int size() {
        return 0;
    }

    Suppressions NONE = address -> null;
}
