package net.mailrelay.delivery.attempt;

import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.DeliveryEvent;

/** Sees each recipient's outcome as it is recorded, with the verdict behind it: the worker's metrics. */
public interface AttemptObserver {

    void recorded(Envelope env, Verdict verdict, DeliveryEvent event);

    AttemptObserver NONE = (env, verdict, event) -> { };
}
