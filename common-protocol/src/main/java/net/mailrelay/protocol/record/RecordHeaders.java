package net.mailrelay.protocol.record;

/** Names of the Kafka record headers (see docs/record-format.md). Values are ASCII. */
public final class RecordHeaders {

    /** The value layout version, e.g. "1". */
    public static final String FORMAT = "mr-format";
    /** On retry tier records: epoch milliseconds before which the record must not be attempted. */
    public static final String NOT_BEFORE = "mr-not-before";

    private RecordHeaders() {
    }
}
