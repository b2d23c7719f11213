package net.mailrelay.protocol.smtp;

/** The class digit of an RFC 3463 enhanced status code. */
public enum StatusClass {
    SUCCESS(2),
    PERSISTENT_TRANSIENT_FAILURE(4),
    PERMANENT_FAILURE(5);

    private final int digit;

    StatusClass(int digit) {
        this.digit = digit;
    }

    public int digit() {
        return digit;
    }

    public static StatusClass ofDigit(int digit) {
        for (StatusClass c : values()) {
            if (c.digit == digit) {
                return c;
            }
        }
        throw new IllegalArgumentException("enhanced status class must be 2, 4 or 5, not " + digit);
    }
}
