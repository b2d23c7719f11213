package net.mailrelay.delivery.attempt;

import java.util.Objects;
import net.mailrelay.protocol.smtp.EnhancedStatus;

/**
 * What became of one recipient in one attempt.
 *
 * <p>{@code reply} is the remote server's reply as sent (for Diagnostic-Code), or null when no server
 * answered; {@code explanation} is the Postfix-style account for logs ("host mx[192.0.2.1] said: 550
 * 5.1.1 ... (in reply to RCPT TO command)").
 */
public sealed interface Verdict {

    String recipient();

    EnhancedStatus status();

    String explanation();

    record Delivered(String recipient, EnhancedStatus status, String host, String address, String reply,
            String explanation) implements Verdict {
    }

    record Deferred(String recipient, EnhancedStatus status, String host, String address, String reply,
            String explanation) implements Verdict {
        public Deferred {
            Objects.requireNonNull(status, "status");
            if (status.isPermanent() || status.statusClass().digit() == 2) {
                throw new IllegalArgumentException("a deferral needs a 4.x.x status, not " + status);
            }
        }
    }

    record Failed(String recipient, EnhancedStatus status, String host, String address, String reply,
            String explanation) implements Verdict {
        public Failed {
            Objects.requireNonNull(status, "status");
            if (!status.isPermanent()) {
                throw new IllegalArgumentException("a failure needs a 5.x.x status, not " + status);
            }
        }
    }

    /** Not decided by this server: try the next one (never the final word on a recipient). */
    record TryNext(String recipient, EnhancedStatus status, String explanation) implements Verdict {
    }
}
