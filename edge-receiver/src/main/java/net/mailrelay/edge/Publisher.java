package net.mailrelay.edge;

import java.util.concurrent.CompletionStage;
import net.mailrelay.protocol.envelope.QueueId;

/** Where the edge hands accepted mail: completes once the record is durable, fails otherwise. */
public interface Publisher {

    /**
     * Publishes one record value (see {@code RecordCodec}). Never blocks the caller: the stage completes
     * on some other thread, or has already failed when there is no room to take the message. A failed
     * stage means the message stays the client's: its record is not written, but for the one batch
     * already in flight that docs/edge.md describes.
     */
    CompletionStage<Void> publish(QueueId queueId, byte[] recordValue);
}
