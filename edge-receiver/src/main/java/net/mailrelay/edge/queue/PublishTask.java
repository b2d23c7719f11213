package net.mailrelay.edge.queue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * One message on its way to Kafka. Its client is answered exactly once, and a record whose client was
 * already answered is never handed to the producer: after a 451 the client still has the message and
 * will send it again, so a record sent after that would be a second copy. Nor is the transaction that
 * carries a record committed once its client has had a 451, and a 451 is never given once the commit
 * may have happened: the client waits for the outcome instead.
 *
 * <pre>
 * QUEUED     -&gt; SENT        the sender thread hands the record to the producer, in a transaction
 * QUEUED     -&gt; ANSWERED    451 without sending: it waited too long, the queue is stopping
 * SENT       -&gt; COMMITTING  every record of the transaction is acknowledged: the commit is asked for
 * SENT       -&gt; ANSWERED    451: not acknowledged in time, or refused (the transaction is aborted), or
 *                           should the sender never get that far, the last-resort backstop
 * COMMITTING -&gt; ANSWERED    250 once the commit is done; 451 when the broker says it was not (aborted,
 *                           fenced). In doubt (no answer) it waits: no backstop
 * </pre>
 */
final class PublishTask {

    enum State { QUEUED, SENT, COMMITTING, ANSWERED }

    private final AtomicReference<State> state = new AtomicReference<>(State.QUEUED);
    private final CompletableFuture<Void> answer = new CompletableFuture<>();
    final ProducerRecord<String, byte[]> record;
    /** What the task holds in the queue's byte budget. */
    final int bytes;
    final long queuedAt = System.nanoTime();
    /** The pending timer (queue wait, then last resort); cancelled once the client is answered. */
    volatile ScheduledFuture<?> timer;

    PublishTask(ProducerRecord<String, byte[]> record) {
        this.record = record;
        this.bytes = record.value().length;
        answer.whenComplete((ok, error) -> {
            ScheduledFuture<?> t = timer;
            if (t != null) {
                t.cancel(false);
            }
        });
    }

    CompletableFuture<Void> answer() {
        return answer;
    }

    State state() {
        return state.get();
    }

    /** True if the record may go to the producer now; false if its client was already answered. */
    boolean takeForSending() {
        return state.compareAndSet(State.QUEUED, State.SENT);
    }

    /** Answers with {@code why} if the record was never handed to the producer; false if it was. */
    boolean failIfQueued(Throwable why) {
        if (state.compareAndSet(State.QUEUED, State.ANSWERED)) {
            answer.completeExceptionally(why);
            return true;
        }
        return false;
    }

    /** Its record is acknowledged and the commit is about to be asked for; false if its client was answered. */
    boolean toCommitting() {
        return state.compareAndSet(State.SENT, State.COMMITTING);
    }

    /** The transaction carrying its record is committed: 250. */
    void committed() {
        if (state.compareAndSet(State.COMMITTING, State.ANSWERED)) {
            answer.complete(null);
        }
    }

    /** The transaction carrying its record is not committed, and never will be: 451. */
    void notCommitted(Throwable why) {
        if (state.compareAndSet(State.SENT, State.ANSWERED) || state.compareAndSet(State.COMMITTING, State.ANSWERED)) {
            answer.completeExceptionally(why);
        }
    }

    /**
     * The backstop that keeps a client from hanging on a sender that never got to its record: answers
     * unless the commit was asked for (then only the broker's answer may decide).
     */
    boolean failUnlessCommitting(Throwable why) {
        if (state.compareAndSet(State.QUEUED, State.ANSWERED) || state.compareAndSet(State.SENT, State.ANSWERED)) {
            answer.completeExceptionally(why);
            return true;
        }
        return false;
    }
}
