package net.mailrelay.delivery.smtp;

import java.util.Objects;

/**
 * How a connection is set up: the name to greet with, the TLS policy, and the credentials to log in
 * with (null for none). Connections are reused only for transactions that need the same setup.
 */
public record ConnectionSpec(String heloName, TlsPolicy tls, Credentials credentials) {

    public ConnectionSpec {
        Objects.requireNonNull(heloName, "heloName");
        Objects.requireNonNull(tls, "tls");
    }

    public ConnectionSpec withTls(TlsPolicy other) {
        return new ConnectionSpec(heloName, other, credentials);
    }
}
