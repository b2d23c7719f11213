package net.mailrelay.bounce.dsn;

/**
 * A composed delivery status notification: the message to queue and what kind of notice it is.
 *
 * @param kind decides the subject, the explanation and the log wording
 * @param message the whole RFC 5322 message, CRLF line endings
 * @param smtpUtf8 whether the notice carries UTF-8 addresses or header fields (RFC 6533 report parts,
 *     returned RFC 6532 headers), so that it may only travel with SMTPUTF8 (RFC 6531)
 */
public record Dsn(Kind kind, byte[] message, boolean smtpUtf8) {

    /** Postfix's three notices, with its subjects and log wording. */
    public enum Kind {
        NON_DELIVERY("Undelivered Mail Returned to Sender", "sender non-delivery notification"),
        DELAY("Delayed Mail (still being retried)", "sender delay notification"),
        SUCCESS("Successful Mail Delivery Report", "sender delivery status notification");

        private final String subject;
        private final String logLabel;

        Kind(String subject, String logLabel) {
            this.subject = subject;
            this.logLabel = logLabel;
        }

        public String subject() {
            return subject;
        }

        public String logLabel() {
            return logLabel;
        }
    }

    public Dsn {
        java.util.Objects.requireNonNull(kind, "kind");
        java.util.Objects.requireNonNull(message, "message");
    }

    /** A notice that needs no SMTPUTF8 of its own. */
    public Dsn(Kind kind, byte[] message) {
        this(kind, message, false);
    }

    public boolean isEightBit() {
        for (byte b : message) {
            if (b < 0) {
                return true;
            }
        }
        return false;
    }
}
