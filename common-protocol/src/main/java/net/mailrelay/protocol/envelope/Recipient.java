package net.mailrelay.protocol.envelope;

import java.util.Objects;
import java.util.Set;

/**
 * One envelope recipient with its RFC 3461 parameters.
 *
 * @param address the forward path as given in RCPT TO (local@domain)
 * @param originalRecipient ORCPT as given ({@code rfc822;addr}), or null
 * @param notifyOn NOTIFY values; empty means "not given" (the default applies)
 */
public record Recipient(String address, String originalRecipient, Set<Notify> notifyOn) {

    public Recipient {
        Objects.requireNonNull(address, "address");
        int at = address.lastIndexOf('@');
        if (at <= 0 || at == address.length() - 1) {
            throw new IllegalArgumentException("recipient must be local@domain: '" + address + "'");
        }
        notifyOn = notifyOn == null ? Set.of() : Set.copyOf(notifyOn);
        if (notifyOn.contains(Notify.NEVER) && notifyOn.size() > 1) {
            throw new IllegalArgumentException("NOTIFY=NEVER cannot be combined with other values");
        }
    }

    public static Recipient of(String address) {
        return new Recipient(address, null, Set.of());
    }

    /** The domain part in lower case: what routing and per-destination limits key on. */
    public String domain() {
        return address.substring(address.lastIndexOf('@') + 1).toLowerCase(java.util.Locale.ROOT);
    }
}
