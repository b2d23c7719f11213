package net.mailrelay.protocol.envelope;

/** RFC 3461 section 4.3 RET: what a DSN carries of the original message. */
public enum DsnReturn {
    FULL, HDRS
}
