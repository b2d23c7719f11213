package net.mailrelay.delivery.ledger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import net.mailrelay.protocol.envelope.QueueId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who owns a recipient of a message while it is delivered: the one home of the claims protocol.
 *
 * <p>An attempt {@link #open opens} the recipients of a record in one ledger call: those settled before
 * (a crash or a rebalance brought the record back) are skipped, those another delivery holds are left
 * to it, and the rest are claimed. Each transaction's verdicts are {@link Attempt#settle settled} in one
 * call: the recipient is marked (delivered, or a copy queued) while its claim is still held, and the
 * claim given up. A failed recipient's claim is kept until its bounce request is durable
 * ({@link #bounceRecorded}): a second reading of the record in between would otherwise ask for a second
 * bounce. A delivery that runs longer than one session limit renews what it holds before its next
 * session, so that a lease of twice the session limit ({@code Timeouts.claimLease}) never runs out under
 * it. Once a record's offset is committed it cannot be read again, and its settled recipients are
 * forgotten ({@link #committed}); a record that may have been read before by a reading that queued a
 * copy keeps them for the copy instead ({@link #copyQueued}). {@code Commits} says when.
 */
public final class RecipientClaims {

    private static final Logger LOG = LoggerFactory.getLogger(RecipientClaims.class);

    /** What became of a claimed recipient in a transaction. */
    public enum Result {
        DELIVERED,
        /** Failed for good: its claim is kept until {@link #bounceRecorded}. */
        FAILED,
        /** Deferred or postponed with a retry copy queued. */
        COPY_QUEUED,
        /** Nothing to remember (postponed without a copy). */
        NOTHING
    }

    private final RecipientLedger ledger;
    private final Duration sessionLimit;
    /** Claims of failed recipients whose bounce requests are not yet durable, by "queue-id recipient". */
    private final Map<String, String> bouncing = new ConcurrentHashMap<>();

    public RecipientClaims(RecipientLedger ledger, Duration sessionLimit) {
        this.ledger = ledger;
        this.sessionLimit = sessionLimit;
    }

    public RecipientLedger ledger() {
        return ledger;
    }

    /** Opens an attempt of these recipients of a message: one ledger call, and a second only when another delivery holds some. */
    public Attempt open(QueueId queueId, List<String> recipients) {
        Attempt attempt = new Attempt(queueId);
        if (recipients.isEmpty()) {
            return attempt;
        }
        List<RecipientLedger.Settlement> copies = new ArrayList<>();
        for (RecipientLedger.Opening o : ledger.open(queueId, recipients)) {
            if (o.claimed()) {
                attempt.held.put(o.recipient(), o.token());
            } else if (o.heldElsewhere()) {
                // The copy queued here must find it settled later.
                copies.add(new RecipientLedger.Settlement(o.recipient(), null, RecipientLedger.Outcome.COPY_QUEUED));
                attempt.elsewhere.add(o.recipient());
            } else if (o.settled() == RecipientLedger.Settled.DELIVERED) {
                LOG.info("{}: to=<{}>, status=sent (delivered in an earlier attempt; skipped)", queueId, o.recipient());
            } else {
                LOG.info("{}: to=<{}>, status=bounced (failed in an earlier attempt, its bounce already queued; skipped)",
                        queueId, o.recipient());
            }
        }
        if (!copies.isEmpty()) {
            ledger.settle(queueId, copies);
        }
        return attempt;
    }

    /**
     * After the attempt's outcome was written (or not): marks each failed recipient bounced once its
     * bounce request is durable, and gives up the claims kept for them. Called once for every attempt
     * with failed recipients, and for recipients failed later (a retry record the broker refused).
     */
    public void bounceRecorded(QueueId queueId, List<String> failed, boolean durable) {
        List<RecipientLedger.Settlement> settlements = new ArrayList<>();
        for (String rcpt : failed) {
            String token = bouncing.remove(queueId.value() + ' ' + rcpt);
            if (durable || token != null) {
                settlements.add(new RecipientLedger.Settlement(rcpt, token,
                        durable ? RecipientLedger.Outcome.BOUNCED : RecipientLedger.Outcome.RELEASED));
            }
        }
        if (!settlements.isEmpty()) {
            ledger.settle(queueId, settlements);
        }
    }

    /**
     * These settled recipients of a message have another queued copy (the record may have been read
     * before, by a reading that postponed them): they are kept for the copy horizon, in one call.
     */
    public void copyQueued(QueueId queueId, List<String> recipients) {
        ledger.settle(queueId, recipients.stream()
                .map(r -> new RecipientLedger.Settlement(r, null, RecipientLedger.Outcome.COPY_QUEUED)).toList());
    }

    /** The records that settled these recipients are committed: the ledger forgets them, in as few calls as it can. */
    public void committed(Map<QueueId, List<String>> settled) {
        ledger.forget(settled);
    }

    /** The claims of one attempt of one message. Used by one delivery thread. */
    public final class Attempt implements AutoCloseable {
        private final QueueId queueId;
        private final Map<String, String> held = new LinkedHashMap<>();
        private final List<String> elsewhere = new ArrayList<>();
        private long renewedAt = System.nanoTime();

        private Attempt(QueueId queueId) {
            this.queueId = queueId;
        }

        /** The recipients this attempt claimed and has not settled yet, in the order given. */
        public List<String> claimed() {
            return List.copyOf(held.keySet());
        }

        /** The recipients another delivery holds: a copy of them is noted, and they are tried again later. */
        public List<String> heldElsewhere() {
            return List.copyOf(elsewhere);
        }

        /** Settles these claimed recipients in one ledger call; a recipient this attempt does not hold is passed over. */
        public void settle(Map<String, Result> results) {
            List<RecipientLedger.Settlement> settlements = new ArrayList<>(results.size());
            results.forEach((rcpt, result) -> {
                String token = held.remove(rcpt);
                if (token == null) {
                    return;
                }
                switch (result) {
                    case FAILED -> bouncing.put(queueId.value() + ' ' + rcpt, token);
                    case DELIVERED -> settlements.add(new RecipientLedger.Settlement(rcpt, token, RecipientLedger.Outcome.DELIVERED));
                    case COPY_QUEUED -> settlements.add(new RecipientLedger.Settlement(rcpt, token,
                            RecipientLedger.Outcome.COPY_QUEUED));
                    case NOTHING -> settlements.add(new RecipientLedger.Settlement(rcpt, token, RecipientLedger.Outcome.RELEASED));
                }
            });
            if (!settlements.isEmpty()) {
                ledger.settle(queueId, settlements);
            }
        }

        /** Before a session: renews what is still held once a session limit has passed since the claim. */
        public void keepAlive() {
            if (System.nanoTime() - renewedAt < sessionLimit.toNanos()) {
                return;
            }
            renewedAt = System.nanoTime();
            held.forEach((rcpt, token) -> {
                if (!ledger.renew(queueId, rcpt, token)) {
                    LOG.warn("{}: to=<{}>: delivery claim lost during a long delivery; another worker may deliver it too",
                            queueId, rcpt);
                }
            });
        }

        /** Gives up what is still held: the recipients an interruption kept from their verdicts. */
        @Override
        public void close() {
            if (held.isEmpty()) {
                return;
            }
            List<RecipientLedger.Settlement> settlements = new ArrayList<>();
            held.forEach((rcpt, token) -> settlements.add(new RecipientLedger.Settlement(rcpt, token,
                    RecipientLedger.Outcome.RELEASED)));
            held.clear();
            ledger.settle(queueId, settlements);
        }
    }
}
