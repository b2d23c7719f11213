package net.mailrelay.protocol.envelope;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.security.SecureRandom;
import java.util.Objects;

/**
 * A message's queue id, unique across the cluster and sortable by time: ten base-32 characters of
 * milliseconds since the epoch and ten random ones. Every log line about a message carries it, as
 * Postfix's do.
 */
public record QueueId(@JsonValue String value) {

    // Crockford base 32: no I, L, O or U, and in ASCII order, so ids sort by time.
    private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    public QueueId {
        Objects.requireNonNull(value, "value");
        if (value.isEmpty() || value.length() > 64 || !value.chars().allMatch(c -> c < 0x80 && Character.isLetterOrDigit(c))) {
            throw new IllegalArgumentException("queue id must be 1-64 ASCII letters or digits: '" + value + "'");
        }
    }

    @JsonCreator
    public static QueueId of(String value) {
        return new QueueId(value);
    }

    public static QueueId next(long epochMillis) {
        char[] out = new char[20];
        long t = epochMillis;
        for (int i = 9; i >= 0; i--) {
            out[i] = ALPHABET[(int) (t & 31)];
            t >>>= 5;
        }
        long r = RANDOM.nextLong();
        for (int i = 10; i < 20; i++) {
            out[i] = ALPHABET[(int) (r & 31)];
            r >>>= 5;
        }
        return new QueueId(new String(out));
    }

    /**
     * When the id was made (its first ten characters), or -1 for an id not made by {@link #next}. Admin
     * tools use it to start reading a topic near the message's arrival instead of at its beginning.
     */
    public long epochMillis() {
        if (value.length() != 20) {
            return -1;
        }
        long t = 0;
        for (int i = 0; i < 10; i++) {
            int digit = new String(ALPHABET).indexOf(Character.toUpperCase(value.charAt(i)));
            if (digit < 0) {
                return -1;
            }
            t = t << 5 | digit;
        }
        return t;
    }

    @Override
    public String toString() {
        return value;
    }
}
