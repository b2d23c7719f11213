package net.mailrelay.delivery.queue;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.mailrelay.delivery.attempt.AttemptRecords;
import net.mailrelay.delivery.attempt.MessageDelivery;
import net.mailrelay.delivery.attempt.Verdict;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Refusals;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The work one record asks for, done on a delivery thread: a delivery attempt and the records that make
 * its outcome durable, or (for a retry-tier record that is not due) a move to the tier that fits its
 * wait. It is finished when every record it writes is acknowledged.
 *
 * <p>A job that fails is kept and run again after a backoff, the same record with the same token, and
 * it keeps what it got done: a delivery whose outcome could not be written is not delivered again; its
 * outcome records are waited for, and only those the broker refused are sent again. A job whose
 * partition went to another worker is abandoned: its claims are given up and the new owner reads the
 * record again.
 */
final class RecordJob {

    private static final Logger LOG = LoggerFactory.getLogger(RecordJob.class);

    /** What every job works with. */
    record Context(MessageDelivery delivery, AttemptRecords records, OutcomeWriter writer, Clock clock, Duration writeTimeout) {
    }

    /**
     * One record to write and the answer to its latest send. A send whose answer has not come is waited
     * for, never sent again: the producer is still retrying it, with the same sequence number, and a
     * second send could be a second copy. Only a record the broker refused is sent again.
     */
    private static final class Outcome {
        final AttemptRecords.Write write;
        /** How many records of its line the broker refused for good before it ({@link AttemptRecords#refused}). */
        final int refusals;
        CompletableFuture<Void> ack;

        Outcome(AttemptRecords.Write write) {
            this(write, 0);
        }

        Outcome(AttemptRecords.Write write, int refusals) {
            this.write = write;
            this.refusals = refusals;
        }

        boolean refused() {
            return ack != null && ack.isCompletedExceptionally();
        }

        /** The broker's refusal when it is for good: the same record would never be taken. */
        Throwable refusedForGood() {
            if (!refused()) {
                return null;
            }
            try {
                ack.join();
                return null;
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                return Refusals.permanent(e) ? (e.getCause() == null ? e : e.getCause()) : null;
            }
        }
    }

    /** The recipients of one record that were delivered or bounced: forgotten by the ledger once its offset is committed. */
    record Settled(QueueId queueId, List<String> recipients) {
    }

    final TopicPartition tp;
    final ConsumerRecord<String, byte[]> record;
    final long token;
    final long startedAtMillis;
    /** Where a move sends the record; null for a delivery. */
    private final String moveTo;
    private final Context context;
    private int failures;
    // What a delivery left to do once the attempt itself is over.
    private RecordCodec.Decoded<Envelope> decoded;
    private Envelope env;
    private List<Verdict> verdicts;
    private long attemptStarted;
    private long attemptEnded;
    /** Its bounce requests are durable and the ledger knows it ({@link #bouncesWritten}). */
    private boolean bouncesRecorded;
    private List<Outcome> unwritten;
    /** DELIVERED events sent while the attempt went on to other domains; waited for with the rest. */
    private final List<Outcome> early = new ArrayList<>();
    private final java.util.Set<String> earlyRecipients = new java.util.HashSet<>();
    private Settled settled;
    /** Recipients failed because the broker refused their retry record for good, not yet marked bounced. */
    private final List<Verdict> failedLater = new ArrayList<>();
    private Envelope failedLaterEnvelope;

    private RecordJob(TopicPartition tp, ConsumerRecord<String, byte[]> record, long token, String moveTo, Context context) {
        this.tp = tp;
        this.record = record;
        this.token = token;
        this.moveTo = moveTo;
        this.context = context;
        this.startedAtMillis = context.clock().millis();
    }

    static RecordJob delivery(TopicPartition tp, ConsumerRecord<String, byte[]> record, long token, Context context) {
        return new RecordJob(tp, record, token, null, context);
    }

    /** Puts a retry-tier record, unchanged, on {@code topic}, where its wait fits. */
    static RecordJob move(TopicPartition tp, ConsumerRecord<String, byte[]> record, long token, String topic,
            long notBeforeMillis, Context context) {
        RecordJob job = new RecordJob(tp, record, token, topic, context);
        job.unwritten = List.of(new Outcome(new AttemptRecords.Write(topic, record.key(), record.value(), notBeforeMillis)));
        return job;
    }

    /** Runs on a delivery thread; true when the job is finished, false when it must run again later. */
    boolean run() {
        try {
            if (verdicts == null && unwritten == null && !deliver()) {
                return true; // nothing can be done with it
            }
            if (unwritten == null) {
                outcome();
            }
            return write();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("{}: interrupted by shutdown; it will be read again", label());
            return failed();
        } catch (RuntimeException e) {
            LOG.warn("{}: {} failed ({}); tried again after a pause", label(), verdicts == null ? "attempt" : "outcome", e.toString());
            return failed();
        }
    }

    /** The attempt itself; false for a record that cannot be read (logged and skipped). */
    private boolean deliver() throws InterruptedException {
        RecordCodec.Decoded<Envelope> d;
        try {
            d = RecordCodec.decode(record.value(), Envelope.class);
        } catch (RecordCodec.MalformedRecordException e) {
            LOG.error("skipping unreadable record {}-{}@{} (key {}): {}", record.topic(), record.partition(),
                    record.offset(), record.key(), e.getMessage());
            return false;
        }
        decoded = d;
        env = d.metadata();
        attemptStarted = context.clock().millis();
        List<Verdict> v = context.delivery().deliver(env, d.value(), d.messageOffset(), d.messageLength(), this::settledEarly);
        attemptEnded = context.clock().millis();
        // From here on the attempt is never made again by this job: only its outcome is written again.
        verdicts = v;
        List<String> done = v.stream().filter(x -> x instanceof Verdict.Delivered || x instanceof Verdict.Failed)
                .map(Verdict::recipient).toList();
        settled = done.isEmpty() ? null : new Settled(env.queueId(), done);
        return true;
    }

    /**
     * A transaction ended while others of the message are still to come: the DELIVERED events of what
     * it delivered go out now. The window in which a crash can cost a duplicate delivery (the MX said
     * 250, the event is not yet on the log) is then one transaction and one write, not the whole attempt.
     */
    private void settledEarly(List<Verdict> decided) {
        long now = context.clock().millis();
        for (Verdict v : decided) {
            if (v instanceof Verdict.Delivered delivered) {
                Outcome o = new Outcome(context.records().deliveredEarly(env, delivered, attemptStarted, now));
                o.ack = context.writer().send(o.write);
                early.add(o);
                earlyRecipients.add(v.recipient());
            }
        }
    }

    /** The records that make the attempt's outcome durable. */
    private void outcome() {
        RecordCodec.Decoded<Envelope> d = decoded;
        List<Outcome> all = new ArrayList<>(early);
        context.records().of(env, d.value(), d.messageOffset(), d.messageLength(), verdicts, attemptStarted,
                attemptEnded, earlyRecipients).stream().map(Outcome::new).forEach(all::add);
        unwritten = List.copyOf(all);
        decoded = null; // the writes hold what they need of the message
    }

    /**
     * Sends what was not sent yet, or was refused, and waits up to the write timeout for every answer.
     * What is still unanswered then is left to the producer, which never gives up on a record itself
     * ({@link OutcomeWriter}), and waited for again on the next run.
     */
    private boolean write() throws InterruptedException {
        replaceRefused();
        for (Outcome o : unwritten) {
            if (o.ack == null || o.refused()) {
                o.ack = context.writer().send(o.write);
            }
        }
        try {
            CompletableFuture.allOf(unwritten.stream().map(o -> o.ack).toArray(CompletableFuture[]::new))
                    .get(context.writeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            List<Outcome> left = unwritten.stream().filter(o -> !o.ack.isDone() || o.refused()).toList();
            long refused = left.stream().filter(Outcome::refused).count();
            LOG.warn("{}: {} of {} outcome records refused ({}) and {} not yet acknowledged; waiting for them, not "
                    + "delivering again", label(), refused, unwritten.size(), refused == 0 ? "none"
                    : (e.getCause() == null ? e : e.getCause()).toString(), left.size() - refused);
            unwritten = left;
            bouncesWritten();
            return failed();
        }
        unwritten = List.of();
        bouncesWritten();
        return true;
    }

    /**
     * A record the broker refused for good is not sent again as it is: that wedged its partition for
     * ever. What goes instead is smaller, or a failure of its recipients with a DSN, or nothing
     * ({@link AttemptRecords#refused}).
     */
    private void replaceRefused() {
        List<Outcome> next = null;
        for (Outcome o : unwritten) {
            Throwable why = o.refusedForGood();
            if (why == null) {
                if (next != null) {
                    next.add(o);
                }
                continue;
            }
            if (next == null) {
                next = new ArrayList<>(unwritten.subList(0, unwritten.indexOf(o)));
            }
            AttemptRecords.Instead instead = context.records().refused(o.write, o.refusals, why.toString(), context.clock().millis());
            for (AttemptRecords.Write w : instead.writes()) {
                next.add(new Outcome(w, o.refusals + 1));
            }
            if (!instead.failed().isEmpty()) {
                failedLater.addAll(instead.failed());
                failedLaterEnvelope = instead.envelope();
            }
        }
        if (next != null) {
            unwritten = List.copyOf(next);
        }
    }

    /**
     * Once the bounce requests are durable, whatever else is still to write: the failed recipients are
     * marked bounced and their claims given up, so that a reading of the record in the meantime (after a
     * rebalance) neither offers them again nor asks for a second bounce.
     */
    private void bouncesWritten() {
        if (unwritten.stream().anyMatch(o -> context.records().isBounceRequest(o.write))) {
            return;
        }
        if (verdicts != null && !bouncesRecorded) {
            bouncesRecorded = true;
            context.delivery().bounceRecorded(env, verdicts, true);
        }
        if (!failedLater.isEmpty()) {
            context.delivery().bounceRecorded(failedLaterEnvelope, failedLater, true);
            List<String> all = new ArrayList<>(settled == null ? List.of() : settled.recipients());
            failedLater.forEach(v -> all.add(v.recipient()));
            settled = new Settled(failedLaterEnvelope.queueId(), all);
            failedLater.clear();
        }
    }

    private boolean failed() {
        failures++;
        return false;
    }

    /**
     * The job will not run again (its partition is gone, or the worker stops): its claims are given up,
     * and the new owner reads the record again. A bounce request still unanswered may yet be written, so
     * its recipients stay claimed until the producer says: bounced if it was written, free to be tried
     * again if not. Letting them go at once bounced them twice (the fault suite's {@code kafka-down}).
     */
    void abandon() {
        if (verdicts == null || bouncesRecorded) {
            return;
        }
        List<CompletableFuture<Void>> pending = unwritten == null ? List.of() : unwritten.stream()
                .filter(o -> context.records().isBounceRequest(o.write) && o.ack != null && !o.ack.isDone())
                .map(o -> o.ack).toList();
        if (pending.isEmpty()) {
            context.delivery().bounceRecorded(env, verdicts, false);
            return;
        }
        // Async: the acknowledgement comes on the producer's network thread, which must not wait on Hazelcast.
        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new))
                .whenCompleteAsync((ok, e) -> context.delivery().bounceRecorded(env, verdicts, e == null));
    }

    /** Failures so far, for the backoff. */
    int failures() {
        return failures;
    }

    /** Whether it waits on its outcome records (Kafka trouble), rather than on a failed attempt. */
    boolean writing() {
        return unwritten != null && !unwritten.isEmpty();
    }

    Settled settled() {
        return settled;
    }

    String label() {
        return (env != null ? env.queueId() + ": " : record.key() + ": ") + (moveTo != null ? "move to " + moveTo : "record "
                + record.topic() + "-" + record.partition() + "@" + record.offset());
    }
}
