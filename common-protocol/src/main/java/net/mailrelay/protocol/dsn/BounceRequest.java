package net.mailrelay.protocol.dsn;

import java.util.List;
import java.util.Objects;
import net.mailrelay.protocol.envelope.Envelope;

/**
 * What a worker asks the bounce service to report: the envelope of the original message and one
 * report per affected recipient. It travels on {@code mail.bounce} with the original message bytes.
 *
 * @param envelope the original envelope (reverse path, ENVID, RET, arrival time)
 * @param reports every recipient this notice is about; one DSN lists them all
 * @param reportingMta the host name of the relay that made the attempts
 */
public record BounceRequest(Envelope envelope, List<RecipientReport> reports, String reportingMta) {

    public BounceRequest {
        Objects.requireNonNull(envelope, "envelope");
        reports = List.copyOf(reports);
        if (reports.isEmpty()) {
            throw new IllegalArgumentException("bounce request for " + envelope.queueId() + " reports no recipient");
        }
        Objects.requireNonNull(reportingMta, "reportingMta");
    }
}
