package net.mailrelay.protocol.dsn;

/**
 * Why a delivery failed, in the terms a sender or postmaster acts on. Carried in events and DSNs;
 * {@link #INVALID_MAILBOX} hard failures feed the suppression list.
 */
public enum FailureClass {
    INVALID_MAILBOX("the address does not exist"),
    MAILBOX_FULL("the mailbox is full"),
    POLICY_BLOCK("refused by the receiving system's policy or spam filter"),
    DNS_FAILURE("the destination could not be found in the DNS"),
    TLS_FAILURE("a secure (TLS) connection could not be made"),
    ROUTING_LOOP("mail forwarding loop"),
    MESSAGE_TOO_BIG("the message is too big"),
    EXPIRED("delivery kept failing until the message expired"),
    OTHER("other");

    private final String meaning;

    FailureClass(String meaning) {
        this.meaning = meaning;
    }

    /** Plain words for the human-readable part of a DSN. */
    public String meaning() {
        return meaning;
    }
}
