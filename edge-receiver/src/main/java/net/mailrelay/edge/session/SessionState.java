package net.mailrelay.edge.session;

/** Where an inbound SMTP conversation stands (RFC 5321 section 4.1.4 command order). */
public enum SessionState {
    /** Greeting sent; the client has not said HELO or EHLO. */
    CONNECTED,
    /** HELO/EHLO done, no transaction open. */
    IDENTIFIED,
    /** MAIL accepted; no recipient accepted yet. */
    MAIL_GIVEN,
    /** At least one recipient accepted. */
    RCPT_GIVEN,
    /** 354 sent; message content is arriving. */
    RECEIVING_DATA,
    /** End of data seen; waiting for Kafka to acknowledge the record before replying. */
    QUEUEING,
    /** QUIT answered or the session was ended by the server. */
    CLOSED
}
