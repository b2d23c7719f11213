package net.mailrelay.edge;

import java.util.concurrent.CompletionStage;
import net.mailrelay.protocol.envelope.QueueId;

/** Where the edge hands accepted mail: completes once the record is durable, fails otherwise. */
public interface Publisher {

    /**
     * Publishes one record value (see {@code RecordCodec}). Never blocks the caller; the stage completes
     * on some other thread.
     */
    CompletionStage<Void> publish(QueueId queueId, byte[] recordValue);
}
