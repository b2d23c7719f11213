package net.mailrelay.protocol.record;

import java.util.Locale;
import java.util.Objects;

/**
 * One address on the suppression list, as kept in the compacted topic {@code mail.suppression} (key: the
 * address in lower case; a null value removes it). Mail to a suppressed address is failed at once, or
 * refused at the edge, until the entry expires.
 *
 * @param address the recipient address that bounced
 * @param reason the reply that made it a hard failure, e.g. "550 5.1.1 user unknown"
 * @param status the enhanced status, e.g. 5.1.1
 * @param addedAtMillis when it was added
 * @param expiresAtMillis when it stops counting
 */
public record SuppressionEntry(String address, String reason, String status, long addedAtMillis, long expiresAtMillis) {

    public SuppressionEntry {
        Objects.requireNonNull(address, "address");
    }

    /** The topic key for an address: addresses are compared without regard to case. */
    public static String key(String address) {
        return address.toLowerCase(Locale.ROOT);
    }

    public boolean activeAt(long nowMillis) {
        return expiresAtMillis > nowMillis;
    }

    /** The cached form: "expires-at-millis TAB reason", a plain string any member can read. */
    public String cacheValue() {
        return expiresAtMillis + "\t" + reason;
    }

    /** The reason in a cached value, or null when there is none or it has expired by {@code nowMillis}. */
    public static String reasonIfActive(String cacheValue, long nowMillis) {
        if (cacheValue == null) {
            return null;
        }
        int tab = cacheValue.indexOf('\t');
        try {
            return tab > 0 && Long.parseLong(cacheValue.substring(0, tab)) > nowMillis ? cacheValue.substring(tab + 1) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
