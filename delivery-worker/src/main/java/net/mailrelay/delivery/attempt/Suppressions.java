package net.mailrelay.delivery.attempt;

/** The suppression list as the worker reads it: addresses that bounced hard lately. */
public interface Suppressions {

    /** The entry's reason when the address is suppressed now, else null. */
    String reason(String address);

    Suppressions NONE = address -> null;
}
