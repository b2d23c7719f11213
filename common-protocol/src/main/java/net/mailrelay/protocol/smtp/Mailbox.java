package net.mailrelay.protocol.smtp;

import java.util.Locale;
import java.util.Objects;

/**
 * An RFC 5321 Mailbox: local-part "@" domain. The local part is kept exactly as written (it is
 * case-sensitive and may be a quoted string); the domain is compared case-insensitively.
 * Non-ASCII characters are allowed here (RFC 6531); whether they may be used is the session's decision.
 */
public record Mailbox(String localPart, String domain) {

    public Mailbox {
        Objects.requireNonNull(localPart, "localPart");
        Objects.requireNonNull(domain, "domain");
        if (localPart.isEmpty() || domain.isEmpty()) {
            throw new IllegalArgumentException("mailbox needs a local part and a domain");
        }
    }

    /** The domain in lower case, for routing and policy lookups. */
    public String domainKey() {
        return domain.toLowerCase(Locale.ROOT);
    }

    public boolean isAscii() {
        return localPart.chars().allMatch(c -> c < 0x80) && domain.chars().allMatch(c -> c < 0x80);
    }

    @Override
    public String toString() {
        return localPart + "@" + domain;
    }

    /** Parses {@code local@domain}; throws {@link AddressSyntaxException} naming what is wrong. */
    public static Mailbox parse(String text) {
        return new AddressParser(text).mailboxOnly();
    }
}
