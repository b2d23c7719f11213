package net.mailrelay.delivery.smtp;

import java.util.Locale;

/**
 * How the client uses TLS with a destination (Postfix smtp_tls_security_level).
 */
public enum TlsPolicy {
    /** Never STARTTLS ("none"). */
    NONE,
    /**
     * STARTTLS when offered, certificate not checked ("may"). A failed handshake is retried in plaintext
     * on the same host, and the host is remembered as TLS-broken for a while.
     */
    OPPORTUNISTIC,
    /** STARTTLS or no delivery; certificate not checked ("encrypt"). */
    REQUIRED,
    /** STARTTLS or no delivery; the certificate must chain to a trusted CA and name the host ("verify"). */
    VERIFY;

    public boolean mandatory() {
        return this == REQUIRED || this == VERIFY;
    }

    public static TlsPolicy parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "none" -> NONE;
            case "opportunistic", "may" -> OPPORTUNISTIC;
            case "required", "encrypt" -> REQUIRED;
            case "verify" -> VERIFY;
            default -> throw new IllegalArgumentException("TLS policy must be none, opportunistic, required or verify, not '" + s + "'");
        };
    }
}
