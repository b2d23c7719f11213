package net.mailrelay.edge.session;

/** Where an inbound SMTP conversation stands (RFC 5321 section 4.1.4 command order). */
public enum SessionState {
    /** Greeting sent; the client has not said HELO or EHLO (or has just started TLS). */
    CONNECTED,
    /** HELO/EHLO done, no transaction open. */
    IDENTIFIED,
    /** MAIL accepted; no recipient accepted yet. */
    MAIL_GIVEN,
    /** At least one recipient accepted. */
    RCPT_GIVEN,
    /** Between BDAT chunks of one message (RFC 3030). */
    CHUNKING,
    /** 354 sent; message content is arriving. */
    RECEIVING_DATA,
    /** A BDAT chunk's octets are arriving. */
    RECEIVING_CHUNK,
    /** In an AUTH exchange: lines are SASL responses, not commands. */
    AUTHENTICATING,
    /** Credentials handed over for checking; nothing is read until the answer. */
    VERIFYING_CREDENTIALS,
    /** 220 sent to STARTTLS; nothing is read until the TLS handshake ends. */
    STARTING_TLS,
    /** End of data seen; waiting for Kafka to acknowledge the record before replying. */
    QUEUEING,
    /** QUIT answered or the session was ended by the server. */
    CLOSED
}
