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
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.dsn.FailureClassifier;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.SuppressionEntry;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.ReplyText;
import net.mailrelay.protocol.smtp.StatusDetail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the verdicts of one attempt into the records that make its outcome durable: an event per
 * recipient on {@code mail.events}; the deferred recipients as one record on a retry tier (or, past
 * the lifetime, as expired); notices for the bounce service on {@code mail.bounce} (failures, a delay
 * warning once the message is {@code delayWarning} old, success for NOTIFY=SUCCESS where the next hop
 * could not report it); and hard "no such user" failures onto the suppression list.
 */
public final class AttemptRecords {

    private static final Logger LOG = LoggerFactory.getLogger(AttemptRecords.class);

    /** One record to write. {@code notBeforeMillis} is set on retry records only. */
    public record Write(String topic, String key, byte[] value, Long notBeforeMillis) {
    }

    private final Topics topics;
    private final RetrySchedule schedule;
    private final String reportingMta;
    private final RandomGenerator random;
    private final Duration delayWarning;
    private final Duration suppressionTtl;
    private final AttemptObserver observer;
    private final int maxRecordBytes;

    /**
     * @param delayWarning age at which the sender is warned of a delay, once; zero for never
     * @param suppressionTtl how long a hard-bounced address stays suppressed; zero adds none
     * @param observer told of every recipient's outcome (metrics)
     * @param maxRecordBytes the largest record the broker takes: a bounce request is made to fit
     */
    public AttemptRecords(Topics topics, RetrySchedule schedule, String reportingMta, RandomGenerator random,
            Duration delayWarning, Duration suppressionTtl, AttemptObserver observer, int maxRecordBytes) {
        this.observer = observer;
        this.maxRecordBytes = maxRecordBytes;
        this.topics = topics;
        this.schedule = schedule;
        this.reportingMta = reportingMta;
        this.random = random;
        this.delayWarning = delayWarning;
        this.suppressionTtl = suppressionTtl;
    }

    public AttemptRecords(Topics topics, RetrySchedule schedule, String reportingMta, RandomGenerator random,
            Duration delayWarning, Duration suppressionTtl) {
        this(topics, schedule, reportingMta, random, delayWarning, suppressionTtl, AttemptObserver.NONE, Integer.MAX_VALUE);
    }

    public AttemptRecords(Topics topics, RetrySchedule schedule, String reportingMta, RandomGenerator random) {
        this(topics, schedule, reportingMta, random, Duration.ZERO, Duration.ZERO);
    }

    /** The attempt's results sorted by what becomes of them. */
    private final class Sorted {
        final List<Recipient> deferred = new ArrayList<>();
        final List<Recipient> postponed = new ArrayList<>();
        final List<RecipientReport> failed = new ArrayList<>();
        final List<RecipientReport> delayed = new ArrayList<>();
        final List<RecipientReport> succeeded = new ArrayList<>();
        final List<SuppressionEntry> suppress = new ArrayList<>();
        String lastDeferral;
        /** Every postponed recipient waits for a held destination: no point looking before the longest tier. */
        boolean allHeld = true;
    }

    public List<Write> of(Envelope env, byte[] value, int messageOffset, int messageLength, List<Verdict> verdicts,
            long startedMillis, long nowMillis) {
        return of(env, value, messageOffset, messageLength, verdicts, startedMillis, nowMillis, java.util.Set.of());
    }

    /**
     * The DELIVERED event of a recipient whose domain finished while the attempt went on to others
     * ({@link MessageDelivery#deliver(Envelope, byte[], int, int, java.util.function.Consumer)}), written
     * before the attempt ends; {@link #of} is then told not to write it again.
     */
    public Write deliveredEarly(Envelope env, Verdict.Delivered v, long startedMillis, long nowMillis) {
        return event(env, v, DeliveryEvent.Outcome.DELIVERED, v.status(), env.attempts() + 1, startedMillis, nowMillis);
    }

    /** As above, leaving out the DELIVERED events of {@code eventsWritten}, written early. */
    public List<Write> of(Envelope env, byte[] value, int messageOffset, int messageLength, List<Verdict> verdicts,
            long startedMillis, long nowMillis, java.util.Set<String> eventsWritten) {
        int attempt = env.attempts() + 1;
        Map<String, Recipient> recipients = env.recipients().stream()
                .collect(Collectors.toMap(Recipient::address, Function.identity(), (a, b) -> a));
        verdicts = verdicts.stream().map(DeliveryTrouble::finalWord).toList();
        RetrySchedule.Decision decision = verdicts.stream().anyMatch(DeliveryTrouble::waits)
                ? schedule.next(attempt, env.arrivedAtMillis(), nowMillis, random) : null;
        boolean expired = decision instanceof RetrySchedule.Decision.Expired;
        long giveUpAt = env.arrivedAtMillis() + schedule.maxLifetime().toMillis();
        Sorted s = new Sorted();
        List<Write> writes = new ArrayList<>();
        for (Verdict v : verdicts) {
            Recipient r = recipients.get(v.recipient());
            Verdict.Remote remote = remote(v);
            EnhancedStatus status = v.status();
            DeliveryEvent.Outcome outcome;
            if (DeliveryTrouble.waits(v) && expired) {
                outcome = DeliveryEvent.Outcome.EXPIRED;
                status = EnhancedStatus.transientFailure(StatusDetail.DELIVERY_TIME_EXPIRED);
                s.failed.add(report(r, Action.FAILED, status, remote, v.explanation(), nowMillis, 0));
            } else if (v instanceof Verdict.Deferred) {
                outcome = DeliveryEvent.Outcome.DEFERRED;
                s.deferred.add(r);
                s.delayed.add(report(r, Action.DELAYED, status, remote, v.explanation(), nowMillis, giveUpAt));
                s.lastDeferral = remote != null && remote.reply() != null ? remote.reply() : v.explanation();
            } else if (v instanceof Verdict.Postponed p) {
                outcome = DeliveryEvent.Outcome.DEFERRED;
                s.postponed.add(r);
                s.allHeld &= p.held();
            } else if (v instanceof Verdict.Failed) {
                outcome = DeliveryEvent.Outcome.FAILED;
                RecipientReport failure = report(r, Action.FAILED, status, remote, v.explanation(), nowMillis, 0);
                s.failed.add(failure);
                if (remote != null && remote.reply() != null && failure.failureClass() == FailureClass.INVALID_MAILBOX
                        && !suppressionTtl.isZero()) {
                    s.suppress.add(new SuppressionEntry(r.address(), remote.reply(), status.toString(), nowMillis,
                            nowMillis + suppressionTtl.toMillis()));
                }
            } else if (v instanceof Verdict.Deleted) {
                outcome = DeliveryEvent.Outcome.DELETED; // the event is all that is left of it: no retry, no DSN
            } else if (v instanceof Verdict.Delivered) {
                outcome = DeliveryEvent.Outcome.DELIVERED;
                if (r.notifyOn().contains(Notify.SUCCESS) && (remote == null || !remote.dsn())) {
                    // RFC 3461 section 6.2.3: the next hop could not take the request on, so the relay reports it.
                    s.succeeded.add(report(r, Action.RELAYED, status, remote, v.explanation(), nowMillis, 0));
                }
            } else {
                // finalWord leaves nothing else; should a new kind appear, it must not pass for delivered.
                throw new IllegalStateException("no outcome for verdict " + v);
            }
            if (!(outcome == DeliveryEvent.Outcome.DELIVERED && eventsWritten.contains(v.recipient()))) {
                writes.add(event(env, v, outcome, status, attempt, startedMillis, nowMillis));
            }
        }
        boolean warn = !s.deferred.isEmpty() && !delayWarning.isZero() && !env.delayWarned()
                && nowMillis - env.arrivedAtMillis() >= delayWarning.toMillis();
        retry(env, value, messageOffset, messageLength, s, decision, attempt, warn, nowMillis).ifPresent(writes::add);
        notice(env, s.failed, value, messageOffset, messageLength, writes);
        if (warn) {
            notice(env, s.delayed, value, messageOffset, messageLength, writes);
        }
        notice(env, s.succeeded, value, messageOffset, messageLength, writes);
        for (SuppressionEntry e : s.suppress) {
            LOG.info("{}: <{}> added to the suppression list until {}: {}", env.queueId(), e.address(),
                    java.time.Instant.ofEpochMilli(e.expiresAtMillis()), e.reason());
            writes.add(new Write(topics.suppression(), SuppressionEntry.key(e.address()), RecordCodec.encode(e), null));
        }
        return writes;
    }

    /** Whether the record asks the bounce service for a notification (a failure, delay or success report). */
    public boolean isBounceRequest(Write w) {
        return w.topic().equals(topics.bounce());
    }

    private java.util.Optional<Write> retry(Envelope env, byte[] value, int offset, int length, Sorted s,
            RetrySchedule.Decision decision, int attempt, boolean warned, long nowMillis) {
        Envelope base = warned ? env.warned() : env;
        if (!s.deferred.isEmpty()) {
            // Postponed recipients ride along: they wait as long as the deferred ones.
            List<Recipient> again = new ArrayList<>(s.deferred);
            again.addAll(s.postponed);
            RetrySchedule.Decision.Retry retry = (RetrySchedule.Decision.Retry) decision;
            Envelope next = base.forRetry(again, attempt, retry.notBeforeMillis(), s.lastDeferral);
            return java.util.Optional.of(new Write(topics.retryTier(retry.tier()), env.queueId().value(),
                    RecordCodec.encode(next, value, offset, length), retry.notBeforeMillis()));
        }
        if (!s.postponed.isEmpty() && decision instanceof RetrySchedule.Decision.Retry) {
            // Not an attempt: back on the shortest tier (the longest when held), the attempt count unchanged.
            Duration tier = schedule.tiers().get(s.allHeld ? schedule.tiers().size() - 1 : 0);
            long notBefore = nowMillis + tier.toMillis();
            Envelope next = base.forRetry(s.postponed, env.attempts(), notBefore, env.lastDiagnostic());
            return java.util.Optional.of(new Write(topics.retryTier(tier), env.queueId().value(),
                    RecordCodec.encode(next, value, offset, length), notBefore));
        }
        return java.util.Optional.empty();
    }

    /** One notice for the bounce service listing every recipient of one kind (RFC 3461: one DSN per event). */
    private void notice(Envelope env, List<RecipientReport> reports, byte[] value, int offset, int length, List<Write> writes) {
        if (reports.isEmpty()) {
            return;
        }
        if (env.hasNullReversePath()) {
            // RFC 3461/5321: a message with a null reverse path never gets a DSN, so no loop can start.
            LOG.info("{}: sender {} notification not sent: null sender", env.queueId(), reports.get(0).action().fieldValue());
            return;
        }
        for (byte[] request : requests(env, reports, value, offset, length)) {
            writes.add(new Write(topics.bounce(), env.queueId().value(), request, null));
        }
    }

    /** The diagnostic each report keeps when a bounce request must be made smaller to fit the broker's limit. */
    static final int SHORT_DIAGNOSTIC = 256;

    /**
     * The bounce request as records the broker takes: one, as a rule. One that would be larger than
     * {@code maxRecordBytes} (it carries the message, and a thousand recipients' diagnostics) was refused,
     * and sent again, for ever, with its partition waiting on it. Then each diagnostic is cut to
     * {@link #SHORT_DIAGNOSTIC} bytes, and what is still too large is split into requests for groups of
     * recipients, each a DSN of its own (RFC 3461 allows one per recipient).
     */
    private List<byte[]> requests(Envelope env, List<RecipientReport> reports, byte[] value, int offset, int length) {
        byte[] whole = RecordCodec.encode(new BounceRequest(env, reports, reportingMta), value, offset, length);
        if (whole.length <= maxRecordBytes) {
            return List.of(whole);
        }
        List<RecipientReport> shortened = reports.stream().map(AttemptRecords::shortened).toList();
        byte[] smaller = RecordCodec.encode(new BounceRequest(env, shortened, reportingMta), value, offset, length);
        if (smaller.length <= maxRecordBytes) {
            LOG.warn("{}: notification of {} recipients over the record limit ({} bytes); diagnostics cut to {} bytes", env.queueId(),
                    reports.size(), whole.length, SHORT_DIAGNOSTIC);
            return List.of(smaller);
        }
        // Groups by estimate (the request without its reports, and each report's JSON), each checked when encoded.
        int[] sizes = shortened.stream().mapToInt(r -> RecordCodec.head(r).length - 5).toArray();
        long base = smaller.length - java.util.Arrays.stream(sizes).asLongStream().sum();
        List<byte[]> out = new ArrayList<>();
        List<RecipientReport> group = new ArrayList<>();
        long groupBytes = base;
        for (int i = 0; i < shortened.size(); i++) {
            if (!group.isEmpty() && groupBytes + sizes[i] > maxRecordBytes) {
                fit(env, group, value, offset, length, out);
                group = new ArrayList<>();
                groupBytes = base;
            }
            group.add(shortened.get(i));
            groupBytes += sizes[i];
        }
        fit(env, group, value, offset, length, out);
        LOG.warn("{}: notification of {} recipients over the record limit ({} bytes); diagnostics cut to {} bytes and split "
                + "into {} notifications", env.queueId(), reports.size(), whole.length, SHORT_DIAGNOSTIC, out.size());
        return out;
    }

    /** The request for {@code group}, or for each half of it when it is over the limit after all. */
    private void fit(Envelope env, List<RecipientReport> group, byte[] value, int offset, int length, List<byte[]> out) {
        byte[] request = RecordCodec.encode(new BounceRequest(env, group, reportingMta), value, offset, length);
        if (request.length <= maxRecordBytes || group.size() == 1) {
            out.add(request);
            return;
        }
        fit(env, group.subList(0, group.size() / 2), value, offset, length, out);
        fit(env, group.subList(group.size() / 2, group.size()), value, offset, length, out);
    }

    /**
     * What to write instead of a record the broker refused for good ({@link net.mailrelay.protocol.record.Refusals}),
     * and the recipients that failed because of it: the job writes {@code writes}, and once their bounce
     * requests are durable marks {@code failed} bounced, as for any failure.
     */
    public record Instead(List<Write> writes, Envelope envelope, List<Verdict> failed) {
        static Instead nothing() {
            return new Instead(List.of(), null, List.of());
        }

        static Instead of(Write w) {
            return new Instead(List.of(w), null, List.of());
        }
    }

    /**
     * Something smaller for a record the broker will never take, or nothing, so that the partition behind
     * it is not wedged for ever by sending the same record again. Each refusal of a record's line goes
     * one step further ({@code refusals}: how many of its line were refused before this one):
     * <ul>
     * <li>a retry record first keeps only {@link #SHORT_DIAGNOSTIC} bytes of its last diagnostic; refused
     * again, its recipients fail with 5.3.4 and their sender gets a DSN (the message cannot wait in the
     * queue; Postfix bounces what it cannot queue, too);
     * <li>a bounce request first returns the message's headers only (RET=HDRS), then no content and short
     * diagnostics, split in halves, down to one recipient; a request for one recipient that is still
     * refused is dropped, logged as an error;
     * <li>an event first keeps a short reply, then is dropped; anything else is dropped.
     * </ul>
     */
    public Instead refused(Write w, int refusals, String why, long nowMillis) {
        if (topics.isRetryTier(w.topic())) {
            return refusedRetry(w, refusals, why, nowMillis);
        }
        if (isBounceRequest(w)) {
            return refusedNotice(w, refusals, why);
        }
        if (w.topic().equals(topics.events()) && refusals == 0) {
            DeliveryEvent e = RecordCodec.decode(w.value(), DeliveryEvent.class).metadata();
            DeliveryEvent shorter = new DeliveryEvent(e.queueId(), e.recipient(), e.outcome(), e.attempt(), e.atMillis(),
                    e.remoteHost(), e.remoteAddress(), ReplyText.bounded(e.reply(), SHORT_DIAGNOSTIC), e.status(),
                    e.durationMillis(), e.tls(), e.failureClass(), e.dkim());
            LOG.warn("{}: {} event of <{}> refused by the queue ({}); written again with a short reply", e.queueId(),
                    e.outcome(), e.recipient(), why);
            return Instead.of(new Write(w.topic(), w.key(), RecordCodec.encode(shorter), w.notBeforeMillis()));
        }
        LOG.error("{}: record for {} refused by the queue for good ({}); dropped", w.key(), w.topic(), why);
        return Instead.nothing();
    }

    private Instead refusedRetry(Write w, int refusals, String why, long nowMillis) {
        RecordCodec.Decoded<Envelope> d = RecordCodec.decode(w.value(), Envelope.class);
        Envelope env = d.metadata();
        if (refusals == 0 && env.lastDiagnostic() != null && env.lastDiagnostic().length() > SHORT_DIAGNOSTIC) {
            Envelope shorter = env.forRetry(env.recipients(), env.attempts(), env.notBeforeMillis(),
                    ReplyText.bounded(env.lastDiagnostic(), SHORT_DIAGNOSTIC));
            LOG.warn("{}: retry record refused by the queue ({}); written again with a short diagnostic", env.queueId(), why);
            return Instead.of(new Write(w.topic(), w.key(), RecordCodec.encode(shorter, d.value(), d.messageOffset(),
                    d.messageLength()), w.notBeforeMillis()));
        }
        EnhancedStatus status = EnhancedStatus.permanentFailure(StatusDetail.MESSAGE_TOO_BIG_FOR_SYSTEM);
        String explanation = ReplyText.bounded("message could not be queued for another attempt: the queue (" + w.topic()
                + ") refused it: " + why, ReplyText.BUDGET);
        List<Verdict> failed = new ArrayList<>();
        List<RecipientReport> reports = new ArrayList<>();
        List<Write> writes = new ArrayList<>();
        for (Recipient r : env.recipients()) {
            Verdict.Failed v = new Verdict.Failed(r.address(), status, null, explanation);
            failed.add(v);
            reports.add(report(r, Action.FAILED, status, null, explanation, nowMillis, 0));
            writes.add(event(env, v, DeliveryEvent.Outcome.FAILED, status, env.attempts(), nowMillis, nowMillis));
        }
        LOG.error("{}: retry record refused by the queue ({}); {} recipients fail with {}", env.queueId(), why,
                failed.size(), status);
        notice(env, reports, d.value(), d.messageOffset(), d.messageLength(), writes);
        return new Instead(writes, env, failed);
    }

    private Instead refusedNotice(Write w, int refusals, String why) {
        RecordCodec.Decoded<BounceRequest> d = RecordCodec.decode(w.value(), BounceRequest.class);
        BounceRequest request = d.metadata();
        Envelope env = request.envelope();
        int headers = headerLength(d.value(), d.messageOffset(), d.messageLength());
        if (refusals == 0 && headers < d.messageLength()) {
            LOG.warn("{}: notification refused by the queue ({}); asked for again with the message's headers only",
                    env.queueId(), why);
            return Instead.of(new Write(w.topic(), w.key(), RecordCodec.encode(new BounceRequest(env.returningHeaders(),
                    request.reports(), request.reportingMta()), d.value(), d.messageOffset(), headers), null));
        }
        List<RecipientReport> shortened = request.reports().stream().map(AttemptRecords::shortened).toList();
        if (shortened.size() > 1) {
            int half = shortened.size() / 2;
            LOG.warn("{}: notification of {} recipients refused by the queue ({}); asked for again without content, in two",
                    env.queueId(), shortened.size(), why);
            return new Instead(List.of(bare(w, env, shortened.subList(0, half), request.reportingMta()),
                    bare(w, env, shortened.subList(half, shortened.size()), request.reportingMta())), null, List.of());
        }
        Write bare = bare(w, env, shortened, request.reportingMta());
        if (bare.value().length < w.value().length) {
            LOG.warn("{}: notification refused by the queue ({}); asked for again without content", env.queueId(), why);
            return Instead.of(bare);
        }
        LOG.error("{}: notification to {} for <{}> refused by the queue for good ({}); no DSN is sent", env.queueId(),
                env.reversePath(), shortened.get(0).recipient().address(), why);
        return Instead.nothing();
    }

    private Write bare(Write w, Envelope env, List<RecipientReport> reports, String reportingMta) {
        return new Write(w.topic(), w.key(), RecordCodec.encode(new BounceRequest(env.returningHeaders(), reports,
                reportingMta)), null);
    }

    private static RecipientReport shortened(RecipientReport r) {
        return new RecipientReport(r.recipient(), r.action(), r.status(), r.remoteMta(),
                ReplyText.bounded(r.diagnostic(), SHORT_DIAGNOSTIC), r.lastAttemptMillis(), r.willRetryUntilMillis(),
                r.failureClass());
    }

    /** The length of the message's header section, its blank line included; the whole message if it has none. */
    static int headerLength(byte[] value, int offset, int length) {
        int end = offset + length;
        for (int i = offset; i + 1 < end; i++) {
            if (value[i] == '\n' && value[i + 1] == '\n') {
                return i + 2 - offset;
            }
            if (value[i] == '\n' && value[i + 1] == '\r' && i + 2 < end && value[i + 2] == '\n') {
                return i + 3 - offset;
            }
        }
        return length;
    }

    /** RFC 3464 Diagnostic-Code: the server's reply when one decided, else our own explanation. */
    private static RecipientReport report(Recipient r, Action action, EnhancedStatus status, Verdict.Remote remote,
            String explanation, long at, long willRetryUntil) {
        String diagnostic = remote != null && remote.reply() != null ? "smtp; " + remote.reply() : explanation;
        FailureClass cls = action == Action.RELAYED ? null : FailureClassifier.classify(status.toString(), diagnostic);
        return new RecipientReport(r, action, status.toString(), remote == null ? null : remote.host(), diagnostic, at,
                willRetryUntil, cls);
    }

    private static Verdict.Remote remote(Verdict v) {
        return v instanceof Verdict.Delivered d ? d.remote()
                : v instanceof Verdict.Deferred d ? d.remote() : v instanceof Verdict.Failed f ? f.remote() : null;
    }

    private Write event(Envelope env, Verdict v, DeliveryEvent.Outcome outcome, EnhancedStatus status, int attempt,
            long started, long now) {
        Verdict.Remote remote = remote(v);
        String reply = remote != null && remote.reply() != null && v instanceof Verdict.Delivered ? remote.reply() : v.explanation();
        DeliveryEvent e = new DeliveryEvent(env.queueId(), v.recipient(), outcome, attempt, now,
                remote == null ? null : remote.host(), remote == null ? null : remote.address(), reply, status.toString(),
                now - started, remote == null ? null : remote.tls(),
                outcome == DeliveryEvent.Outcome.DELIVERED || outcome == DeliveryEvent.Outcome.DELETED ? null
                        : FailureClassifier.classify(status.toString(), v.explanation()), env.dkim());
        observer.recorded(env, v, e);
        return new Write(topics.events(), env.queueId().value(), RecordCodec.encode(e), null);
    }
}
