package net.mailrelay.delivery.attempt;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import java.util.stream.Collectors;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusDetail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the verdicts of one attempt into the records that make its outcome durable: an event per
 * recipient on {@code mail.events}; the deferred recipients as one record on a retry tier (or, past
 * the lifetime, as expired); the failed ones as one bounce request on {@code mail.bounce}.
 */
public final class AttemptRecords {

    private static final Logger LOG = LoggerFactory.getLogger(AttemptRecords.class);

    /** One record to write. {@code notBeforeMillis} is set on retry records only. */
    public record Write(String topic, QueueId key, byte[] value, Long notBeforeMillis) {
    }

    private final Topics topics;
    private final RetrySchedule schedule;
    private final String reportingMta;
    private final RandomGenerator random;

    public AttemptRecords(Topics topics, RetrySchedule schedule, String reportingMta, RandomGenerator random) {
        this.topics = topics;
        this.schedule = schedule;
        this.reportingMta = reportingMta;
        this.random = random;
    }

    public List<Write> of(Envelope env, byte[] value, int messageOffset, int messageLength, List<Verdict> verdicts,
            long startedMillis, long nowMillis) {
        int attempt = env.attempts() + 1;
        Map<String, Recipient> recipients = env.recipients().stream()
                .collect(Collectors.toMap(Recipient::address, Function.identity(), (a, b) -> a));
        List<Write> writes = new ArrayList<>();
        List<Recipient> deferred = new ArrayList<>();
        List<Recipient> postponed = new ArrayList<>();
        List<RecipientReport> failed = new ArrayList<>();
        String lastDeferral = null;
        boolean expired = false;
        RetrySchedule.Decision decision = null;
        if (verdicts.stream().anyMatch(v -> v instanceof Verdict.Deferred || v instanceof Verdict.Postponed)) {
            decision = schedule.next(attempt, env.arrivedAtMillis(), nowMillis, random);
            expired = decision instanceof RetrySchedule.Decision.Expired;
        }
        for (Verdict v : verdicts) {
            DeliveryEvent.Outcome outcome;
            EnhancedStatus status = v.status();
            if (v instanceof Verdict.Deferred d && expired) {
                outcome = DeliveryEvent.Outcome.EXPIRED;
                status = EnhancedStatus.transientFailure(StatusDetail.DELIVERY_TIME_EXPIRED);
                failed.add(report(recipients.get(v.recipient()), status, d.remote(), v.explanation(), nowMillis));
            } else if (v instanceof Verdict.Deferred d) {
                outcome = DeliveryEvent.Outcome.DEFERRED;
                deferred.add(recipients.get(v.recipient()));
                lastDeferral = d.remote() != null && d.remote().reply() != null ? d.remote().reply() : v.explanation();
            } else if (v instanceof Verdict.Postponed && expired) {
                outcome = DeliveryEvent.Outcome.EXPIRED;
                status = EnhancedStatus.transientFailure(StatusDetail.DELIVERY_TIME_EXPIRED);
                failed.add(report(recipients.get(v.recipient()), status, null, v.explanation(), nowMillis));
            } else if (v instanceof Verdict.Postponed) {
                outcome = DeliveryEvent.Outcome.DEFERRED;
                postponed.add(recipients.get(v.recipient()));
            } else if (v instanceof Verdict.Failed f) {
                outcome = DeliveryEvent.Outcome.FAILED;
                failed.add(report(recipients.get(v.recipient()), status, f.remote(), v.explanation(), nowMillis));
            } else {
                outcome = DeliveryEvent.Outcome.DELIVERED;
            }
            writes.add(event(env.queueId(), v, outcome, status, attempt, startedMillis, nowMillis));
        }
        if (!deferred.isEmpty()) {
            // Postponed recipients ride along: they wait as long as the deferred ones.
            deferred.addAll(postponed);
            RetrySchedule.Decision.Retry retry = (RetrySchedule.Decision.Retry) decision;
            Envelope again = env.forRetry(deferred, attempt, retry.notBeforeMillis(), lastDeferral);
            writes.add(new Write(topics.retryTier(retry.tier()), env.queueId(),
                    RecordCodec.encode(again, value, messageOffset, messageLength), retry.notBeforeMillis()));
        } else if (!postponed.isEmpty()) {
            // Not an attempt: back on the shortest tier, the attempt count unchanged.
            Duration tier = schedule.tiers().get(0);
            long notBefore = nowMillis + tier.toMillis();
            Envelope again = env.forRetry(postponed, env.attempts(), notBefore, env.lastDiagnostic());
            writes.add(new Write(topics.retryTier(tier), env.queueId(),
                    RecordCodec.encode(again, value, messageOffset, messageLength), notBefore));
        }
        if (!failed.isEmpty()) {
            if (env.hasNullReversePath()) {
                // RFC 3461/5321: a message with a null reverse path never gets a DSN, so no loop can start.
                LOG.info("{}: sender non-delivery notification not sent: null sender", env.queueId());
            } else {
                BounceRequest bounce = new BounceRequest(env, failed, reportingMta);
                writes.add(new Write(topics.bounce(), env.queueId(),
                        RecordCodec.encode(bounce, value, messageOffset, messageLength), null));
            }
        }
        return writes;
    }

    /** RFC 3464 Diagnostic-Code: the server's reply when one decided, else our own explanation. */
    private static RecipientReport report(Recipient r, EnhancedStatus status, Verdict.Remote remote, String explanation,
            long at) {
        String diagnostic = remote != null && remote.reply() != null ? "smtp; " + remote.reply() : explanation;
        return new RecipientReport(r, Action.FAILED, status.toString(), remote == null ? null : remote.host(), diagnostic, at);
    }

    private Write event(QueueId id, Verdict v, DeliveryEvent.Outcome outcome, EnhancedStatus status, int attempt,
            long started, long now) {
        Verdict.Remote remote = v instanceof Verdict.Delivered d ? d.remote()
                : v instanceof Verdict.Deferred d ? d.remote() : v instanceof Verdict.Failed f ? f.remote() : null;
        String host = remote == null ? null : remote.host();
        String address = remote == null ? null : remote.address();
        String reply = remote != null && remote.reply() != null && v instanceof Verdict.Delivered ? remote.reply() : v.explanation();
        DeliveryEvent e = new DeliveryEvent(id, v.recipient(), outcome, attempt, now, host, address, reply,
                status.toString(), now - started, remote == null ? null : remote.tls());
        return new Write(topics.events(), id, RecordCodec.encode(e), null);
    }
}
