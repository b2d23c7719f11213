package net.mailrelay.protocol.envelope;

/** RFC 3461 section 4.1 NOTIFY values. */
public enum Notify {
    NEVER, SUCCESS, FAILURE, DELAY
}
