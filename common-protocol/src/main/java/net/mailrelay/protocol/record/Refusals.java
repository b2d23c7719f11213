package net.mailrelay.protocol.record;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;

/**
 * Which answers of a producer say that the same record will never be taken: larger than the producer's
 * {@code max.request.size} or the topic's {@code max.message.bytes}, or invalid. Sending such a record
 * again only waits for ever; the writer must send something else instead. Every other failure (a broker
 * down, not authorized yet, a timeout) may pass, and the same record is sent again.
 */
public final class Refusals {

    private Refusals() {
    }

    public static boolean permanent(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e instanceof RecordTooLargeException || e instanceof RecordBatchTooLargeException
                || e instanceof InvalidRecordException;
    }
}
