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
 * it keeps what it got done: a delivery whose outcome could not be written is not delivered again, only
 * its outcome records that were not acknowledged are sent again. A job whose partition went to another
 * worker is abandoned: its claims are given up and the new owner reads the record again.
 */
final class RecordJob {

    private static final Logger LOG = LoggerFactory.getLogger(RecordJob.class);

    /** What every job works with. */
    record Context(MessageDelivery delivery, AttemptRecords records, OutcomeWriter writer, Clock clock, Duration writeTimeout) {
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
    private List<AttemptRecords.Write> unwritten;
    private Settled settled;

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
        job.unwritten = List.of(new AttemptRecords.Write(topic, record.key(), record.value(), notBeforeMillis));
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
        List<Verdict> v = context.delivery().deliver(env, d.value(), d.messageOffset(), d.messageLength());
        attemptEnded = context.clock().millis();
        // From here on the attempt is never made again by this job: only its outcome is written again.
        verdicts = v;
        List<String> done = v.stream().filter(x -> x instanceof Verdict.Delivered || x instanceof Verdict.Failed)
                .map(Verdict::recipient).toList();
        settled = done.isEmpty() ? null : new Settled(env.queueId(), done);
        return true;
    }

    /** The records that make the attempt's outcome durable. */
    private void outcome() {
        RecordCodec.Decoded<Envelope> d = decoded;
        unwritten = context.records().of(env, d.value(), d.messageOffset(), d.messageLength(), verdicts, attemptStarted,
                attemptEnded);
        decoded = null; // the writes hold what they need of the message
    }

    /** Sends what is not yet acknowledged and waits for it; the producer answers within its delivery timeout. */
    private boolean write() throws InterruptedException {
        List<CompletableFuture<Void>> acks = new ArrayList<>(unwritten.size());
        for (AttemptRecords.Write w : unwritten) {
            acks.add(context.writer().send(w));
        }
        try {
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
                    .get(context.writeTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            List<AttemptRecords.Write> left = new ArrayList<>();
            for (int i = 0; i < acks.size(); i++) {
                CompletableFuture<Void> a = acks.get(i);
                if (!a.isDone() || a.isCompletedExceptionally()) {
                    left.add(unwritten.get(i));
                }
            }
            LOG.warn("{}: {} of {} outcome records not acknowledged ({}); sent again after a pause, not delivered again",
                    label(), left.size(), unwritten.size(), (e.getCause() == null ? e : e.getCause()).toString());
            unwritten = left;
            return failed();
        }
        unwritten = List.of();
        if (verdicts != null) {
            // Their bounce requests are durable now: a record read again must not ask for them twice.
            context.delivery().bounceRecorded(env, verdicts, true);
        }
        return true;
    }

    private boolean failed() {
        failures++;
        return false;
    }

    /** The job will not run again (its partition is gone, or the worker stops): gives its claims up. */
    void abandon() {
        if (verdicts != null && (unwritten == null || !unwritten.isEmpty())) {
            context.delivery().bounceRecorded(env, verdicts, false);
        }
    }

    /** Failures so far, for the backoff. */
    int failures() {
        return failures;
    }

    /** Whether it failed writing (Kafka trouble), rather than in the attempt. */
    boolean writing() {
        return unwritten != null && !unwritten.isEmpty();
    }

    Settled settled() {
        return settled;
    }

    private String label() {
        return (env != null ? env.queueId() + ": " : record.key() + ": ") + (moveTo != null ? "move to " + moveTo : "record "
                + record.topic() + "-" + record.partition() + "@" + record.offset());
    }
}
