package net.mailrelay.edge.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes accepted mail to the outbound topic with an idempotent producer and {@code acks=all}: the
 * returned stage completes only when every in-sync replica has the record, which is what lets the edge
 * say 250. Otherwise it fails, and the edge says 451; a 451 must mean the message is still the client's.
 *
 * <p>KafkaProducer.send blocks while it waits for metadata or buffer space, which must never happen on
 * an event loop, so sends are handed to one sender thread through a queue bounded by bytes (messages
 * are up to 25 MiB): a full queue fails the publish at once. A send blocks at most {@link Timing#maxBlock}.
 * A message that waited in the queue longer than {@link Timing#maxQueueWait} is answered 451 and never
 * sent ({@link PublishTask}: once its client is answered, its record is not handed to the producer).
 * Once handed over, the answer is the producer's: the ack, or a failure within its delivery timeout,
 * the publish timeout. A last-resort backstop answers 451 well after that, should the producer ever fail
 * to call back, so that no client hangs.
 *
 * <p>What remains, and cannot be closed without Kafka transactions: a batch already on its way to a
 * broker when the broker froze may still be written after the producer gave up on it, so the client
 * has a 451 and the topic has the record. The client sends again and the message is delivered twice:
 * the duplicate window of RFC 1047, which every MTA that answers after the data has. The fix above only
 * keeps the edge from widening it: before it, every copy a client retried during a brown-out was queued
 * and sent once Kafka came back.
 */
public final class KafkaPublisher implements Publisher, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaPublisher.class);

    /**
     * The publisher's times, from the publish timeout T ({@code edge.publish-timeout}). A client is
     * answered at most {@code maxQueueWait + maxBlock + T} after the end of its data, the backstop aside.
     *
     * @param maxBlock the producer's max.block.ms: how long a send may wait for metadata or buffer space
     * @param maxQueueWait how long a message may wait in the queue before it is answered 451 unsent
     * @param lastResort from publish() to the backstop's 451, for a producer that never calls back
     */
    record Timing(Duration publishTimeout, Duration maxBlock, Duration maxQueueWait, Duration lastResort) {

        static Timing of(Duration publishTimeout) {
            Duration quarter = publishTimeout.dividedBy(4);
            Duration maxBlock = max(Duration.ofMillis(1), min(Duration.ofSeconds(2), quarter));
            Duration maxQueueWait = max(Duration.ofMillis(1), min(Duration.ofSeconds(5), quarter));
            return new Timing(publishTimeout, maxBlock, maxQueueWait,
                    maxQueueWait.plus(maxBlock).plus(publishTimeout).plusSeconds(5));
        }

        private static Duration min(Duration a, Duration b) {
            return a.compareTo(b) <= 0 ? a : b;
        }

        private static Duration max(Duration a, Duration b) {
            return a.compareTo(b) >= 0 ? a : b;
        }
    }

    private final KafkaProducer<String, byte[]> producer;
    private final String topic;
    private final Timing timing;
    private final long maxQueuedBytes;
    private final AtomicLong queuedBytes = new AtomicLong();
    private final EdgeMetrics metrics;
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> daemon(r, "edge-publish"));
    private final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1, r -> daemon(r, "edge-publish-timer"));

    public KafkaPublisher(KafkaAccess kafka, String topic, Duration timeout, int maxRecordBytes, String clientId,
            EdgeMetrics metrics) {
        this(kafka, topic, timeout, maxRecordBytes, clientId, metrics, bufferMemory(maxRecordBytes));
    }

    /** @param maxQueuedBytes the queue's byte budget; an empty queue still takes one message of any size */
    KafkaPublisher(KafkaAccess kafka, String topic, Duration timeout, int maxRecordBytes, String clientId,
            EdgeMetrics metrics, long maxQueuedBytes) {
        this.topic = topic;
        this.timing = Timing.of(timeout);
        this.maxQueuedBytes = maxQueuedBytes;
        this.metrics = metrics;
        timers.setRemoveOnCancelPolicy(true);
        metrics.publishQueue(queuedBytes::get);
        this.producer = new KafkaProducer<>(config(kafka, timing, maxRecordBytes, clientId),
                new StringSerializer(), new ByteArraySerializer());
    }

    /** The producer's own buffer; the queue in front of it gets as much again. */
    private static long bufferMemory(int maxRecordBytes) {
        return Math.max(64L << 20, 2L * maxRecordBytes);
    }

    static Map<String, Object> config(KafkaAccess kafka, Timing timing, int maxRecordBytes, String clientId) {
        long ms = timing.publishTimeout().toMillis();
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        c.put(ProducerConfig.ACKS_CONFIG, "all");
        c.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // One request at a time: what arrives while it is in flight (and, on a standalone broker, being
        // fsynced) goes out together in the next one. Group commit: several in-flight requests would each
        // wait for their own fsync, one after the other. That wait is the batching, so no linger is added
        // to it: a message that finds the connection idle goes at once.
        c.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        c.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        // The key (the queue id) orders nothing: one record per message. Ignoring it lets concurrent
        // sessions share one partition's batch, so a broker that fsyncs each batch (standalone) syncs once
        // for many messages instead of once per message spread over every partition.
        c.put(ProducerConfig.PARTITIONER_IGNORE_KEYS_CONFIG, true);
        c.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRecordBytes);
        c.put(ProducerConfig.BUFFER_MEMORY_CONFIG, bufferMemory(maxRecordBytes));
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) ms);
        c.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.max(1, ms - 10));
        // Short: the sender thread serves every session, and a send blocked on a broker that cannot be
        // found holds up the whole queue behind it.
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, timing.maxBlock().toMillis());
        return kafka.config(c);
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
        try {
            task.timer = timers.schedule(() -> queueWaitOver(task), timing.maxQueueWait().toNanos(), TimeUnit.NANOSECONDS);
            sender.execute(new Send(task));
        } catch (RejectedExecutionException e) {
            queuedBytes.addAndGet(-task.bytes);
            refuse(task, NotSentException.Reason.STOPPING, "the edge is stopping");
        }
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

    /** A task for the sender thread; a class of its own so that close() can answer the ones never run. */
    private final class Send implements Runnable {
        private final PublishTask task;

        Send(PublishTask task) {
            this.task = task;
        }

        @Override
        public void run() {
            send(task);
        }
    }

    private void send(PublishTask task) {
        queuedBytes.addAndGet(-task.bytes);
        if (System.nanoTime() - task.queuedAt > timing.maxQueueWait().toNanos()) {
            // The timer may not have run yet; the client must not wait for it.
            refuse(task, NotSentException.Reason.QUEUE_WAIT, waitedTooLong());
            return;
        }
        if (!task.takeForSending()) {
            return; // answered 451 while it waited: the client has it still, and a record now would be a copy
        }
        try {
            producer.send(task.record, (metadata, error) -> task.producerAnswered(error));
        } catch (RuntimeException e) {
            task.producerAnswered(e); // not appended: metadata or buffer space did not come within max.block.ms
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
        // The producer promises a callback within its delivery timeout; this only runs if it broke that
        // promise. The record may yet be written, so this 451 may cost a duplicate; a hung client costs more.
        if (task.failAnyway(new TimeoutException("no answer from the Kafka producer within " + timing.lastResort()))) {
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

    /** Bytes of the messages waiting for the sender thread. */
    long queuedBytes() {
        return queuedBytes.get();
    }

    @Override
    public void close() {
        // By now the listeners are closed: a queued message's client is gone without an answer and will
        // send it again, so it is not sent. What the producer already has, it gets to finish.
        for (Runnable r : sender.shutdownNow()) {
            if (r instanceof Send s) {
                queuedBytes.addAndGet(-s.task.bytes);
                refuse(s.task, NotSentException.Reason.STOPPING, "the edge is stopping");
            }
        }
        try {
            sender.awaitTermination(timing.maxBlock().toMillis() + 1_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timers.shutdownNow();
        producer.close(timing.publishTimeout());
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }
}
