package net.mailrelay.edge.policy;

/**
 * Recipients the edge refuses at RCPT: the suppression list, when it is enforced at the edge (addresses
 * that bounced hard lately get 550 5.1.1 before the message is even sent).
 */
public interface RecipientBlocks {

    /** Why the address is refused now, or null. Answers from memory: it is asked on the event loop. */
    String reason(String address);

    RecipientBlocks NONE = address -> null;
}
