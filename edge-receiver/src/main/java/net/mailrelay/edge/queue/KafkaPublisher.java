package net.mailrelay.edge.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.edge.Publisher;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.record.KafkaAccess;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.RecordHeaders;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes accepted mail to the outbound topic in Kafka transactions ({@code acks=all}): the returned
 * stage completes only when the transaction carrying the record is committed, which is what lets the
 * edge say 250. Otherwise it fails, and the edge says 451; a 451 must mean the message is still the
 * client's, and that no copy of it will ever be delivered.
 *
 * <p>That is why transactions. With a plain idempotent producer, a batch already on its way to a broker
 * when the broker froze could be written after the producer gave up on it: the client had a 451, the
 * topic had the record, and the client's retry was a second copy (the fault suite's {@code kafka-freeze}
 * counted them as "unledgered"). Now a record is only read by the relay's consumers
 * ({@code read_committed}) once its transaction commits, and the commit is asked for only when every
 * record of the transaction is acknowledged and no client of it has been answered: a 451 given before
 * that point leaves a transaction that is aborted, by this publisher or by the coordinator's
 * {@code transaction.timeout.ms}, so its records are never read. After that point there is no 451: the
 * clients wait for the commit's outcome, through a broker freeze if need be (RFC 5321 gives a client ten
 * minutes for the reply to its final dot).
 *
 * <p>One sender thread takes what the sessions queue (a queue bounded by bytes; a full queue fails the
 * publish at once) and puts all of it in one transaction: while one commits, the next fills (group
 * commit). A message that waited in the queue longer than {@link Timing#maxQueueWait} is answered 451
 * and never sent. A transaction whose records are not all acknowledged within the publish timeout is
 * aborted, its clients answered 451. A last-resort backstop answers 451 well after that, should the
 * sender never get to a record, so that no client hangs on a broken sender.
 */
public final class KafkaPublisher implements Publisher, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaPublisher.class);
    /** The most records one transaction carries. */
    private static final int MAX_BATCH = 1_000;

    /**
     * The publisher's times, from the publish timeout T ({@code edge.publish-timeout}). A client is
     * answered at most {@code maxQueueWait + maxBlock + T} after the end of its data, unless the commit of
     * its transaction was asked for and the broker has not said how it went.
     *
     * @param maxBlock the producer's max.block.ms: how long a send, or a transaction call, may wait
     * @param maxQueueWait how long a message may wait in the queue before it is answered 451 unsent
     * @param lastResort from publish() to the backstop's 451, for a sender that never got to it
     */
    record Timing(Duration publishTimeout, Duration maxBlock, Duration maxQueueWait, Duration lastResort) {

        static Timing of(Duration publishTimeout) {
            Duration quarter = publishTimeout.dividedBy(4);
            Duration maxBlock = max(Duration.ofMillis(1), min(Duration.ofSeconds(2), quarter));
            Duration maxQueueWait = max(Duration.ofMillis(1), min(Duration.ofSeconds(5), quarter));
            return new Timing(publishTimeout, maxBlock, maxQueueWait,
                    maxQueueWait.plus(maxBlock).plus(publishTimeout).plusSeconds(5));
        }

        /**
         * How long the coordinator lets a transaction stay open before it aborts it itself: past the time
         * a commit can be asked for (the backstop's), and no longer, since an edge that dies with one
         * open holds back the partitions it wrote to, for every reader, until then.
         */
        Duration transactionTimeout() {
            return lastResort;
        }

        private static Duration min(Duration a, Duration b) {
            return a.compareTo(b) <= 0 ? a : b;
        }

        private static Duration max(Duration a, Duration b) {
            return a.compareTo(b) >= 0 ? a : b;
        }
    }

    private final Map<String, Object> config;
    private final String topic;
    private final Timing timing;
    private final long maxQueuedBytes;
    private final AtomicLong queuedBytes = new AtomicLong();
    private final EdgeMetrics metrics;
    private final LinkedBlockingQueue<PublishTask> queue = new LinkedBlockingQueue<>();
    private final Thread sender;
    private final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1, r -> daemon(r, "edge-publish-timer"));
    private volatile boolean running = true;
    /** Made, and its transactions initialized, by the sender thread; null until then, or after a fatal error. */
    private KafkaProducer<String, byte[]> producer;
    /** The last transaction was not aborted yet (the broker did not answer): abort it before the next. */
    private boolean abortPending;

    /**
     * @param transactionalId the producer's transactional id: {@link #transactionalId} for an edge of a
     *     cluster; one that stays the same over restarts where a single process can hold it (standalone),
     *     so that a restart aborts the transaction its crashed predecessor left open at once
     */
    public KafkaPublisher(KafkaAccess kafka, String topic, Duration timeout, int maxRecordBytes, String clientId,
            String transactionalId, EdgeMetrics metrics) {
        this(kafka, topic, timeout, maxRecordBytes, clientId, transactionalId, metrics, bufferMemory(maxRecordBytes));
    }

    /** @param maxQueuedBytes the queue's byte budget; an empty queue still takes one message of any size */
    KafkaPublisher(KafkaAccess kafka, String topic, Duration timeout, int maxRecordBytes, String clientId,
            String transactionalId, EdgeMetrics metrics, long maxQueuedBytes) {
        this.topic = topic;
        this.timing = Timing.of(timeout);
        this.maxQueuedBytes = maxQueuedBytes;
        this.metrics = metrics;
        this.config = config(kafka, timing, maxRecordBytes, clientId, transactionalId);
        timers.setRemoveOnCancelPolicy(true);
        metrics.publishQueue(queuedBytes::get);
        sender = daemon(this::run, "edge-publish");
        sender.start();
    }

    /**
     * A transactional id for an edge of a cluster: the client id and a random part, so that two edges
     * given the same hostname never fence each other. A crashed edge's open transaction is then aborted by
     * the coordinator after {@link Timing#transactionTimeout}, not by its successor.
     */
    public static String transactionalId(String clientId) {
        return "mail-relay-" + clientId + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** The producer's own buffer; the queue in front of it gets as much again. */
    private static long bufferMemory(int maxRecordBytes) {
        return Math.max(64L << 20, 2L * maxRecordBytes);
    }

    static Map<String, Object> config(KafkaAccess kafka, Timing timing, int maxRecordBytes, String clientId,
            String transactionalId) {
        long ms = timing.publishTimeout().toMillis();
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        c.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, (int) timing.transactionTimeout().toMillis());
        // Each transaction is sent at once and waited for: no linger. A transaction's records go out
        // together; what arrives meanwhile waits for the next transaction (the group commit).
        c.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        // The key (the queue id) orders nothing: one record per message. Ignoring it lets a transaction's
        // records share one partition's batch, so a broker that fsyncs each batch (standalone) syncs once
        // for many messages, and a transaction spans few partitions.
        c.put(ProducerConfig.PARTITIONER_IGNORE_KEYS_CONFIG, true);
        c.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) ms);
        c.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.max(1, ms - 10));
        // Short: the sender thread serves every session, and a call blocked on a broker that cannot be
        // found holds up the whole queue behind it.
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, timing.maxBlock().toMillis());
        return kafka.producer(clientId, maxRecordBytes, c);
    }

    @Override
    public CompletionStage<Void> publish(QueueId queueId, byte[] recordValue) {
        PublishTask task = new PublishTask(new ProducerRecord<>(topic, null, queueId.value(), recordValue,
                List.of(new RecordHeader(RecordHeaders.FORMAT, RecordCodec.FORMAT_HEADER_VALUE.getBytes(StandardCharsets.US_ASCII)))));
        if (!admit(task.bytes)) {
            metrics.publishRefused(NotSentException.Reason.QUEUE_FULL.tag());
            return CompletableFuture.failedFuture(new NotSentException(NotSentException.Reason.QUEUE_FULL,
                    "the publish queue is full (" + queuedBytes.get() + " bytes waiting)"));
        }
        if (!running) {
            queuedBytes.addAndGet(-task.bytes);
            refuse(task, NotSentException.Reason.STOPPING, "the edge is stopping");
            return task.answer();
        }
        try {
            task.timer = timers.schedule(() -> queueWaitOver(task), timing.maxQueueWait().toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            queuedBytes.addAndGet(-task.bytes);
            refuse(task, NotSentException.Reason.STOPPING, "the edge is stopping");
            return task.answer();
        }
        queue.add(task);
        return task.answer();
    }

    /** Takes the bytes from the budget, or says no. An empty queue takes any message, however big. */
    private boolean admit(int bytes) {
        while (true) {
            long queued = queuedBytes.get();
            if (queued > 0 && queued + bytes > maxQueuedBytes) {
                return false;
            }
            if (queuedBytes.compareAndSet(queued, queued + bytes)) {
                return true;
            }
        }
    }

    /** The sender thread: one transaction for whatever is queued, then the next. */
    private void run() {
        List<PublishTask> batch = new ArrayList<>();
        while (running) {
            try {
                PublishTask first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    prepare();
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                transact(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.error("edge publisher: unexpected error; its messages are answered 451", e);
                batch.forEach(t -> t.notCommitted(e));
                batch.forEach(t -> refuse(t, NotSentException.Reason.STOPPING, e.toString()));
                dropProducer();
            } finally {
                // The budget holds a message until its transaction is over, not only while it is queued.
                for (PublishTask t : batch) {
                    queuedBytes.addAndGet(-t.bytes);
                }
                batch.clear();
            }
        }
    }

    private void transact(List<PublishTask> batch) throws InterruptedException {
        List<PublishTask> taken = new ArrayList<>(batch.size());
        for (PublishTask t : batch) {
            if (System.nanoTime() - t.queuedAt > timing.maxQueueWait().toNanos()) {
                // The timer may not have run yet; the client must not wait for it.
                refuse(t, NotSentException.Reason.QUEUE_WAIT, waitedTooLong());
            } else if (t.takeForSending()) {
                taken.add(t);
            } // else answered 451 while it waited: the client has it still, and a record now would be a copy
        }
        if (taken.isEmpty()) {
            return;
        }
        long deadline = System.nanoTime() + timing.publishTimeout().toNanos();
        List<Future<RecordMetadata>> acks = new ArrayList<>(taken.size());
        try {
            ready();
            producer.beginTransaction();
            for (PublishTask t : taken) {
                acks.add(producer.send(t.record));
            }
        } catch (RuntimeException e) {
            abort(taken, e); // nothing was committed, nor will be
            return;
        }
        Exception failure = null;
        for (Future<RecordMetadata> ack : acks) {
            try {
                ack.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause() instanceof Exception cause ? cause : e;
                break;
            } catch (java.util.concurrent.TimeoutException e) {
                failure = new TimeoutException("not acknowledged within " + timing.publishTimeout());
                break;
            }
        }
        if (failure == null) {
            for (PublishTask t : taken) {
                if (!t.toCommitting()) {
                    failure = new IllegalStateException("a client of the transaction was answered before its commit");
                }
            }
        }
        if (failure != null) {
            abort(taken, failure);
            return;
        }
        commit(taken);
    }

    /**
     * Asks for the commit; from here a client gets 250 or, if the broker says the transaction was not
     * committed, 451, never a guess. While the broker does not answer (frozen, unreachable), the commit is
     * asked for again; the coordinator either has it or will abort the transaction at its timeout, and
     * the producer learns which once the broker answers.
     */
    private void commit(List<PublishTask> taken) throws InterruptedException {
        long asked = System.nanoTime();
        boolean warned = false;
        while (true) {
            try {
                producer.commitTransaction();
                taken.forEach(PublishTask::committed);
                if (warned) {
                    LOG.info("{} messages: the commit went through after {} ms", taken.size(),
                            (System.nanoTime() - asked) / 1_000_000);
                }
                return;
            } catch (TimeoutException e) {
                if (!warned) {
                    warned = true;
                    LOG.warn("{} messages ({}...): no answer to the commit of their transaction; their clients wait "
                            + "for it, as a 451 could be a second copy", taken.size(), taken.get(0).record.key());
                }
                if (!running && System.nanoTime() - asked > timing.publishTimeout().toNanos()) {
                    LOG.warn("{} messages: stopping with the commit of their transaction in doubt; their clients get "
                            + "no answer", taken.size());
                    return;
                }
            } catch (InterruptException e) {
                throw new InterruptedException("stopping with a commit in doubt");
            } catch (KafkaException e) {
                // Refused: aborted by the coordinator (its timeout), fenced, or a record failed. Not committed.
                LOG.warn("{} messages: their transaction was not committed ({}); answered 451", taken.size(), e.toString());
                taken.forEach(t -> t.notCommitted(e));
                dropProducer();
                return;
            }
        }
    }

    /** Answers 451 (nothing of the transaction will be read), then aborts it. */
    private void abort(List<PublishTask> taken, Exception why) {
        taken.forEach(t -> t.notCommitted(why));
        if (producer == null) {
            return;
        }
        abortPending = true;
        tryAbort();
    }

    private void tryAbort() {
        try {
            producer.abortTransaction();
            abortPending = false;
        } catch (TimeoutException e) {
            // Asked again before the next transaction; the coordinator aborts it at its timeout anyway.
        } catch (IllegalStateException e) {
            abortPending = false; // no transaction was begun
        } catch (KafkaException e) {
            dropProducer(); // fenced or otherwise unusable: a new one, with its own transactions
        }
    }

    /** A producer with its transactions initialized, the last one aborted; throws if there cannot be one now. */
    private void ready() {
        if (producer == null) {
            KafkaProducer<String, byte[]> p = new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer());
            producer = p;
            abortPending = false;
            initialized = false;
        }
        if (!initialized) {
            try {
                producer.initTransactions();
                initialized = true;
            } catch (TimeoutException e) {
                throw e; // the broker did not answer in max.block.ms: the same producer tries again
            } catch (RuntimeException e) {
                dropProducer(); // not authorized, fenced, misconfigured: a new producer next time
                throw e;
            }
        }
        if (abortPending) {
            tryAbort();
            if (abortPending) {
                transactionsReady = false;
                throw new TimeoutException("the previous transaction is not aborted yet");
            }
        }
        transactionsReady = true;
    }

    /**
     * Whether the producer's transactions are initialized: until they are (a fresh broker makes its
     * transaction log on first use, which takes longer than a publish may wait), a message would be
     * answered 451, so the process does not call itself ready.
     */
    public boolean transactionsReady() {
        return transactionsReady && running;
    }

    private boolean initialized;
    /** Transactions initialized and nothing left to abort: a message now is sent at once. */
    private volatile boolean transactionsReady;
    private long notReadyLoggedAt = System.nanoTime() - TimeUnit.MINUTES.toNanos(2);

    /**
     * While nothing is queued: gets the producer's transactions ready (the first use of a broker's
     * transaction log creates it, which can take longer than a publish may wait), so that the first
     * message after a start is not answered 451.
     */
    private void prepare() {
        if (producer != null && initialized && !abortPending) {
            return;
        }
        try {
            ready();
        } catch (RuntimeException e) {
            long now = System.nanoTime();
            if (now - notReadyLoggedAt > TimeUnit.MINUTES.toNanos(1)) {
                notReadyLoggedAt = now;
                LOG.warn("edge publisher: Kafka transactions not ready yet ({}); messages are answered 451 meanwhile",
                        e.toString());
            }
        }
    }

    private void dropProducer() {
        transactionsReady = false;
        KafkaProducer<String, byte[]> p = producer;
        producer = null;
        if (p != null) {
            p.close(Duration.ZERO);
        }
    }

    private void queueWaitOver(PublishTask task) {
        if (refuse(task, NotSentException.Reason.QUEUE_WAIT, waitedTooLong())) {
            return;
        }
        if (task.state() == PublishTask.State.SENT) {
            task.timer = timers.schedule(() -> lastResort(task),
                    timing.lastResort().minus(timing.maxQueueWait()).toNanos(), TimeUnit.NANOSECONDS);
            if (task.answer().isDone()) {
                task.timer.cancel(false);
            }
        }
    }

    private void lastResort(PublishTask task) {
        // The sender answers within its publish timeout; this only runs if it broke that promise. Its
        // transaction is then not committed (the sender commits only when no client was answered).
        if (task.failUnlessCommitting(new TimeoutException("no answer from the Kafka producer within " + timing.lastResort()))) {
            LOG.warn("{}: the Kafka producer neither acknowledged nor failed the record within {}; answered 451",
                    task.record.key(), timing.lastResort());
        }
    }

    private boolean refuse(PublishTask task, NotSentException.Reason reason, String detail) {
        if (task.failIfQueued(new NotSentException(reason, detail))) {
            metrics.publishRefused(reason.tag());
            return true;
        }
        return false;
    }

    private String waitedTooLong() {
        return "waited over " + timing.maxQueueWait() + " in the publish queue";
    }

    /** Bytes of the messages waiting for the sender thread, or in the transaction it is on. */
    long queuedBytes() {
        return queuedBytes.get();
    }

    @Override
    public void close() {
        // By now the listeners are closed: a queued message's client is gone without an answer and will
        // send it again, so it is not sent. What the sender has, it gets to finish.
        running = false;
        List<PublishTask> left = new ArrayList<>();
        queue.drainTo(left);
        for (PublishTask t : left) {
            queuedBytes.addAndGet(-t.bytes);
            refuse(t, NotSentException.Reason.STOPPING, "the edge is stopping");
        }
        try {
            sender.join(timing.publishTimeout().plus(timing.maxBlock()).toMillis() + 1_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (sender.isAlive()) {
            sender.interrupt();
        }
        timers.shutdownNow();
        KafkaProducer<String, byte[]> p = producer;
        if (p != null) {
            p.close(timing.maxBlock());
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }
}
