package net.mailrelay.delivery.route;

import java.util.List;
import net.mailrelay.protocol.smtp.EnhancedStatus;

/** The result of routing a domain: addresses to try in order, or why there are none. */
public sealed interface Resolution {

    record Targets(List<Target> targets) implements Resolution {
        public Targets {
            targets = List.copyOf(targets);
            if (targets.isEmpty()) {
                throw new IllegalArgumentException("no targets");
            }
        }
    }

    /**
     * No route. {@code status} says whether retrying can help: 4.4.3 for a DNS server failure or
     * timeout, 5.1.2 for a domain that does not exist, 5.1.10 for a null MX (RFC 7505).
     */
    record Failure(EnhancedStatus status, String text) implements Resolution {
    }
}
