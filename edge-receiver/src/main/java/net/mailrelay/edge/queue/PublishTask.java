package net.mailrelay.edge.queue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * One message on its way to Kafka. Its client is answered exactly once, and a record whose client was
 * already answered is never handed to the producer: after a 451 the client still has the message and
 * will send it again, so a record sent after that would be a second copy.
 *
 * <pre>
 * QUEUED -&gt; SENT       the sender thread hands the record to KafkaProducer.send
 * QUEUED -&gt; ANSWERED   451 without sending: it waited too long, the queue is stopping
 * SENT   -&gt; ANSWERED   the producer's callback: 250 on the ack, 451 on an error or its delivery timeout;
 *                      or, should the producer never call back, the last-resort backstop
 * </pre>
 */
final class PublishTask {

    enum State { QUEUED, SENT, ANSWERED }

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

    /** The producer's verdict on a record it was given: null for the ack. */
    void producerAnswered(Exception error) {
        if (state.compareAndSet(State.SENT, State.ANSWERED)) {
            complete(error);
        }
    }

    /** Whatever the state, unless already answered: the backstop that keeps a client from hanging. */
    boolean failAnyway(Throwable why) {
        if (state.getAndSet(State.ANSWERED) != State.ANSWERED) {
            answer.completeExceptionally(why);
            return true;
        }
        return false;
    }

    private void complete(Exception error) {
        if (error == null) {
            answer.complete(null);
        } else {
            answer.completeExceptionally(error);
        }
    }
}
