package net.mailrelay.delivery.ledger;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.mailrelay.protocol.envelope.QueueId;

/**
 * The cluster's memory of which recipients of which message are settled (delivered, or bounced with
 * their bounce request safely queued), so that a record read twice (after a crash or a rebalance) is
 * neither delivered nor bounced twice. It is soft state: losing it may cost a duplicate, never a message.
 */
public interface RecipientLedger {

    /** What the ledger knows of a recipient. */
    enum Settled {
        NO, DELIVERED, BOUNCED
    }

    boolean isDelivered(QueueId queueId, String recipient);

    void markDelivered(QueueId queueId, String recipient);

    /** Whether the recipient was delivered or bounced already; one lookup. */
    default Settled settled(QueueId queueId, String recipient) {
        return isDelivered(queueId, recipient) ? Settled.DELIVERED : Settled.NO;
    }

    /**
     * Remembers a recipient that failed for good, once its bounce request is durable (never before: a
     * record read again after a crash in between must still ask for the bounce).
     */
    default void markBounced(QueueId queueId, String recipient) {
    }

    /**
     * Notes that this recipient now has another queued copy: a retry copy, or a record read twice at once
     * around a rebalance, one reading delivering it while the other, finding it claimed, queued it for
     * later. The entry then outlives {@link #forget} (for the copy horizon), so the later copy finds it
     * settled even after a second reading of the first record delivered it and was committed.
     */
    default void keepCopies(QueueId queueId, String recipient) {
    }

    /**
     * Drops the memory of a settled recipient once the record that carried it can no longer be read
     * again (its offset is committed). Best effort; called off the delivery path, so it may wait.
     */
    default void forget(QueueId queueId, String recipient) {
    }

    /** {@link #forget(QueueId, String)} for the settled recipients of many records, in as few calls as the ledger can. */
    default void forget(Map<QueueId, List<String>> settled) {
        settled.forEach((q, recipients) -> recipients.forEach(r -> forget(q, r)));
    }

    /**
     * Claims the recipient for one delivery about to start. Returns the claim's token, or null when
     * another delivery holds the claim (on any worker, this one included: it is delivering this
     * recipient right now). A claim held by a worker that has died is taken over.
     */
    String claim(QueueId queueId, String recipient);

    /**
     * Extends a claim this delivery holds by another lease, for a delivery that runs long. Returns false
     * when the claim is no longer ours (its lease ran out and another delivery took it).
     */
    default boolean renew(QueueId queueId, String recipient, String token) {
        return true;
    }

    /** Gives the claim up once the attempt is over. */
    void release(QueueId queueId, String recipient, String token);

    /**
     * What {@link #open} found for one recipient: settled already (DELIVERED or BOUNCED, no token),
     * claimed for this delivery (its token), or held by another delivery (NO and no token).
     */
    record Opening(String recipient, Settled settled, String token) {
        public boolean claimed() {
            return token != null;
        }

        public boolean heldElsewhere() {
            return token == null && settled == Settled.NO;
        }
    }

    /**
     * Opens a delivery of these recipients of one message: reports each one settled already, and
     * claims each other one unless another delivery holds it. A ledger in a cluster does it in one
     * round trip; this default asks recipient by recipient.
     */
    default List<Opening> open(QueueId queueId, List<String> recipients) {
        List<Opening> out = new ArrayList<>(recipients.size());
        for (String r : recipients) {
            Settled s = settled(queueId, r);
            String token = s == Settled.NO ? claim(queueId, r) : null;
            if (token != null) {
                s = settled(queueId, r);
                if (s != Settled.NO) {
                    release(queueId, r, token); // the delivery that held the claim until a moment ago finished it
                    token = null;
                }
            }
            out.add(new Opening(r, s, token));
        }
        return out;
    }

    /** What became of a recipient, told by {@link #settle}. */
    enum Outcome {
        /** Delivered: remembered as such ({@link #markDelivered}). */
        DELIVERED,
        /** Failed for good, its bounce request durable ({@link #markBounced}). */
        BOUNCED,
        /** Another copy of it is queued, a retry or another reading's ({@link #keepCopies}). */
        COPY_QUEUED,
        /** Nothing to remember. */
        RELEASED
    }

    /** One recipient's outcome, and the claim to give up with it (null when it holds none). */
    record Settlement(String recipient, String token, Outcome outcome) {
    }

    /**
     * Records what became of these recipients of one message and gives up their claims: the mark is
     * set while the claim is still held, so that no other reading finds the recipient free and
     * unsettled in between. A ledger in a cluster does it in one round trip; this default does it
     * recipient by recipient.
     */
    default void settle(QueueId queueId, List<Settlement> settlements) {
        for (Settlement s : settlements) {
            switch (s.outcome()) {
                case DELIVERED -> markDelivered(queueId, s.recipient());
                case BOUNCED -> markBounced(queueId, s.recipient());
                case COPY_QUEUED -> keepCopies(queueId, s.recipient());
                case RELEASED -> {
                }
            }
            if (s.token() != null) {
                release(queueId, s.recipient(), s.token());
            }
        }
    }

    /** A recipient of a message, and how it was settled (DELIVERED or BOUNCED). */
    record Entry(QueueId queueId, String recipient, Settled settled) {
        public Entry {
            if (settled == Settled.NO) {
                throw new IllegalArgumentException("an entry to restore is delivered or bounced");
            }
        }

        public Entry(QueueId queueId, String recipient) {
            this(queueId, recipient, Settled.DELIVERED);
        }
    }

    /**
     * Marks recipients delivered or bounced again after the ledger was lost, from the delivery log and the
     * bounce requests, for as long as a queued copy of a recipient is kept ({@link #keepCopies}): long
     * enough for every record that could carry them to be read and committed. Returns how many it marked.
     */
    default int restore(Collection<Entry> settled) {
        return 0;
    }

    /**
     * The queue partitions (named {@code topic-partition}) for which this ledger cannot vouch: it holds
     * no mark that their recipients were rebuilt or recorded since the ledger began, so it was lost (a
     * new cluster) or never covered them. A partition listed here must be rebuilt before anything of it
     * is delivered. Empty when the ledger cannot answer: then nothing can be rebuilt into it either.
     */
    default Set<String> uncovered(Collection<String> partitions) {
        return Set.of();
    }

    /** Marks these queue partitions covered: rebuilt, or with nothing to rebuild. */
    default void covered(Collection<String> partitions) {
    }
}
