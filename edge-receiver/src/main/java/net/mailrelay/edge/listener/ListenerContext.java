package net.mailrelay.edge.listener;

import io.netty.handler.ssl.SslContext;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import net.mailrelay.edge.Authenticator;
import net.mailrelay.edge.ClientGuard;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.edge.Publisher;
import net.mailrelay.edge.dkim.MessageSigning;
import net.mailrelay.edge.policy.ConnectionLimits;
import net.mailrelay.edge.session.SessionSettings;

/**
 * Everything the connections of one listener share.
 *
 * @param tls the server TLS context, or null when the listener has no TLS at all
 * @param metrics where the listener counts
 * @param ready false while the process cannot accept mail (Kafka or Hazelcast down): new connections get 421
 * @param signing DKIM, applied to each message before its publish
 */
public record ListenerContext(SessionSettings settings, Duration idleTimeout, Publisher publisher,
        Authenticator authenticator, ClientGuard guard, ConnectionLimits limits, SslContext tls, Clock clock,
        EdgeMetrics metrics, BooleanSupplier ready, MessageSigning signing) {

    public ListenerContext {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(publisher, "publisher");
        Objects.requireNonNull(authenticator, "authenticator");
        Objects.requireNonNull(guard, "guard");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(ready, "ready");
        Objects.requireNonNull(signing, "signing");
        var l = settings.listener();
        if ((l.startTlsOffered() || l.implicitTls()) && tls == null) {
            throw new IllegalArgumentException("listener " + l.name() + " offers TLS but has no certificate");
        }
    }
}
