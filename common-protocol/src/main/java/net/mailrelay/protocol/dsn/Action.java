package net.mailrelay.protocol.dsn;

/** RFC 3464 section 2.3.3 Action field values. */
public enum Action {
    FAILED, DELAYED, DELIVERED, RELAYED, EXPANDED;

    public String fieldValue() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
