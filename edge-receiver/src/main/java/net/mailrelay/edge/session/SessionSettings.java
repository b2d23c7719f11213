package net.mailrelay.edge.session;

import java.util.Objects;
import net.mailrelay.edge.policy.RecipientBlocks;
import net.mailrelay.edge.policy.RelayPolicy;

/**
 * The limits and identity an inbound session works with.
 *
 * @param hostname the name in the greeting, EHLO reply and Received: header ({@code myhostname})
 * @param listener what this listener offers and demands
 * @param maxMessageSize bytes of message content accepted ({@code message_size_limit})
 * @param maxRecipients recipients per message ({@code smtpd_recipient_limit})
 * @param maxErrors errors before the server hangs up ({@code smtpd_hard_error_limit})
 * @param maxReceivedHeaders Received: fields a message may carry before it is taken for a loop
 *     ({@code hopcount_limit})
 * @param bareLineFeeds what to do with lines ended by a bare LF ({@code smtpd_forbid_bare_newline})
 * @param relayPolicy who may send where
 * @param blocks recipients refused at RCPT (the suppression list, when enforced at the edge)
 */
public record SessionSettings(String hostname, ListenerPolicy listener, long maxMessageSize, int maxRecipients,
        int maxErrors, int maxReceivedHeaders, BareLineFeeds bareLineFeeds, RelayPolicy relayPolicy,
        RecipientBlocks blocks) {

    public SessionSettings {
        Objects.requireNonNull(hostname, "hostname");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(bareLineFeeds, "bareLineFeeds");
        Objects.requireNonNull(relayPolicy, "relayPolicy");
        blocks = blocks == null ? RecipientBlocks.NONE : blocks;
        if (maxMessageSize < 1) {
            throw new IllegalArgumentException("maxMessageSize must be positive, not " + maxMessageSize);
        }
        // RFC 5321 section 4.5.3.1.8: a server must accept at least 100 recipients.
        if (maxRecipients < 100) {
            throw new IllegalArgumentException("maxRecipients must be at least 100 (RFC 5321), not " + maxRecipients);
        }
        if (maxErrors < 1) {
            throw new IllegalArgumentException("maxErrors must be positive, not " + maxErrors);
        }
        if (maxReceivedHeaders < 1) {
            throw new IllegalArgumentException("maxReceivedHeaders must be positive, not " + maxReceivedHeaders);
        }
    }

    public SessionSettings(String hostname, ListenerPolicy listener, long maxMessageSize, int maxRecipients,
            int maxErrors, int maxReceivedHeaders, BareLineFeeds bareLineFeeds, RelayPolicy relayPolicy) {
        this(hostname, listener, maxMessageSize, maxRecipients, maxErrors, maxReceivedHeaders, bareLineFeeds, relayPolicy,
                RecipientBlocks.NONE);
    }

    public SessionSettings forListener(ListenerPolicy other) {
        return new SessionSettings(hostname, other, maxMessageSize, maxRecipients, maxErrors, maxReceivedHeaders,
                bareLineFeeds, relayPolicy, blocks);
    }
}
