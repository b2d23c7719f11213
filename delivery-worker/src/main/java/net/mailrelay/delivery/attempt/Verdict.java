package net.mailrelay.delivery.attempt;

import java.util.Objects;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.ReplyText;

/**
 * What became of one recipient in one attempt. Every text in it is bounded ({@link ReplyText}): it is
 * copied into every record of the outcome, whatever the remote server sent.
 *
 * <p>{@code remote} says which server decided and what it said, or is null when no server answered;
 * {@code explanation} is the Postfix-style account for logs ("host mx[192.0.2.1] said: 550 5.1.1 ...
 * (in reply to RCPT TO command)").
 */
public sealed interface Verdict {

    String recipient();

    EnhancedStatus status();

    String explanation();

    /**
     * The server that answered: its name, address, reply (as sent; null if it said nothing), TLS, and
     * whether it took DSN requests on (RFC 3461), so that it, not this relay, reports success.
     */
    record Remote(String host, String address, String reply, String tls, boolean dsn) {
        public Remote {
            reply = ReplyText.bounded(reply);
        }
    }

    record Delivered(String recipient, EnhancedStatus status, Remote remote, String explanation) implements Verdict {
        public Delivered {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
        }
    }

    record Deferred(String recipient, EnhancedStatus status, Remote remote, String explanation) implements Verdict {
        public Deferred {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
            Objects.requireNonNull(status, "status");
            if (status.isPermanent() || status.statusClass().digit() == 2) {
                throw new IllegalArgumentException("a deferral needs a 4.x.x status, not " + status);
            }
        }
    }

    record Failed(String recipient, EnhancedStatus status, Remote remote, String explanation) implements Verdict {
        public Failed {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
            Objects.requireNonNull(status, "status");
            if (!status.isPermanent()) {
                throw new IllegalArgumentException("a failure needs a 5.x.x status, not " + status);
            }
        }
    }

    /** Not decided by this server: try the next one (never the final word on a recipient). */
    record TryNext(String recipient, EnhancedStatus status, String explanation) implements Verdict {
        public TryNext {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
        }
    }

    /**
     * Not attempted now for a reason that says nothing about the message: the destination is at its
     * cluster-wide connection or message-rate limit, or another worker is delivering this recipient
     * right now. It goes back on the shortest retry tier and the attempt is not counted (status 4.4.5).
     * A {@code held} one (its destination is on hold, Postfix's hold queue) waits on the longest tier
     * instead, as there is no point looking at it again soon; it still ages and expires.
     */
    record Postponed(String recipient, EnhancedStatus status, String explanation, Limit limit) implements Verdict {

        public Postponed {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
        }

        /** What put it back; HELD waits on the longest tier, the others on the shortest. */
        public enum Limit { CONNECTIONS, RATE, CLAIM, HELD, OTHER }

        public Postponed(String recipient, EnhancedStatus status, String explanation) {
            this(recipient, status, explanation, Limit.OTHER);
        }

        public Postponed(String recipient, EnhancedStatus status, String explanation, boolean held) {
            this(recipient, status, explanation, held ? Limit.HELD : Limit.OTHER);
        }

        public boolean held() {
            return limit == Limit.HELD;
        }
    }

    /** Removed from the queue by the administrator (Postfix postsuper -d): no attempt, no DSN. */
    record Deleted(String recipient, EnhancedStatus status, String explanation) implements Verdict {
        public Deleted {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
        }
    }

    /**
     * The TLS handshake failed where the policy allows plaintext: try the same server again without TLS
     * (never the final word either).
     */
    record TryWithoutTls(String recipient, EnhancedStatus status, String explanation) implements Verdict {
        public TryWithoutTls {
            explanation = ReplyText.bounded(explanation, ReplyText.ACCOUNT);
        }
    }
}
