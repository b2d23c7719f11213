package net.mailrelay.delivery.smtp;

/** The steps of an outbound SMTP conversation, in order; a report names the one where it ended. */
public enum Stage {
    /** Waiting for a free connection slot: the destination is at its cluster-wide limit. */
    WAIT("waiting for a connection slot"),
    CONNECT("connecting"),
    GREETING("receiving the initial server greeting"),
    EHLO("in reply to EHLO command"),
    HELO("in reply to HELO command"),
    STARTTLS("in reply to STARTTLS command"),
    TLS_HANDSHAKE("during the TLS handshake"),
    AUTH("in reply to AUTH command"),
    RSET("in reply to RSET command"),
    MAIL("in reply to MAIL FROM command"),
    RCPT("in reply to RCPT TO command"),
    DATA("in reply to DATA command"),
    DOT("in reply to end of DATA command"),
    DONE("after the transaction");

    private final String phrase;

    Stage(String phrase) {
        this.phrase = phrase;
    }

    /** Postfix's wording, for diagnostics: "(in reply to RCPT TO command)". */
    public String phrase() {
        return phrase;
    }
}
