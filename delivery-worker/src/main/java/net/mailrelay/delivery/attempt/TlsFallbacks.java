package net.mailrelay.delivery.attempt;

import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hosts whose TLS handshake failed under opportunistic TLS, remembered for a while so that the next
 * messages go to them in plaintext at once instead of failing the handshake again each time.
 */
final class TlsFallbacks {

    private final Map<String, Long> until = new ConcurrentHashMap<>();
    private final Duration memory;
    private final Clock clock;

    TlsFallbacks(Duration memory, Clock clock) {
        this.memory = memory;
        this.clock = clock;
    }

    void remember(String host) {
        until.put(host.toLowerCase(Locale.ROOT), clock.millis() + memory.toMillis());
        if (until.size() > 100_000) {
            long now = clock.millis();
            until.values().removeIf(t -> t < now);
        }
    }

    boolean plaintextOnly(String host) {
        Long t = until.get(host.toLowerCase(Locale.ROOT));
        return t != null && t > clock.millis();
    }
}
