package net.mailrelay.delivery.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import net.mailrelay.delivery.schedule.RetrySchedule;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.envelope.BodyType;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.envelope.Recipient;
import net.mailrelay.protocol.record.DeliveryEvent;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.record.SuppressionEntry;
import net.mailrelay.protocol.record.Topics;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.ReplyText;
import org.junit.jupiter.api.Test;

/** Which records an attempt produces: retries, notices for the bounce service, suppression entries. */
class AttemptRecordsTest {

    static final long NOW = 1_800_000_000_000L;
    static final Topics TOPICS = new Topics("");
    static final RetrySchedule SCHEDULE = RetrySchedule.POSTFIX_LIKE;
    final AttemptRecords records = new AttemptRecords(TOPICS, SCHEDULE, "relay.test", new SplittableRandom(1),
            Duration.ofHours(4), Duration.ofDays(30));
    static final byte[] MESSAGE = "Subject: x\r\n\r\nbody\r\n".getBytes();

    static Envelope envelope(String sender, long ageMillis, boolean warned, Recipient... rcpts) {
        return new Envelope(QueueId.of("Q1"), sender, List.of(rcpts), BodyType.SEVEN_BIT, false, null, null, "127.0.0.1",
                "c.test", null, NOW - ageMillis, 3, 0, null, warned);
    }

    static Verdict.Remote remote(String reply, boolean dsn) {
        return new Verdict.Remote("mx.test", "192.0.2.1:25", reply, null, dsn);
    }

    List<AttemptRecords.Write> of(Envelope env, Verdict... verdicts) {
        return records.of(env, MESSAGE, 0, MESSAGE.length, List.of(verdicts), NOW - 100, NOW);
    }

    static List<BounceRequest> notices(List<AttemptRecords.Write> writes) {
        return writes.stream().filter(w -> w.topic().equals(TOPICS.bounce()))
                .map(w -> RecordCodec.decode(w.value(), BounceRequest.class).metadata()).toList();
    }

    static Verdict deferred(String rcpt) {
        return new Verdict.Deferred(rcpt, EnhancedStatus.parse("4.2.2"), remote("452 4.2.2 mailbox full", false),
                "host mx.test said: 452 4.2.2 mailbox full");
    }

    @Test
    void warnsOfADelayOnceTheMessageIsOldEnoughAndOnlyOnce() {
        Envelope old = envelope("s@c.test", Duration.ofHours(5).toMillis(), false, Recipient.of("a@x.test"));
        List<AttemptRecords.Write> w = of(old, deferred("a@x.test"));
        List<BounceRequest> n = notices(w);
        assertThat(n).singleElement().satisfies(b -> {
            assertThat(b.reports()).singleElement().satisfies(r -> {
                assertThat(r.action()).isEqualTo(Action.DELAYED);
                assertThat(r.status()).isEqualTo("4.2.2");
                assertThat(r.willRetryUntilMillis()).isEqualTo(old.arrivedAtMillis() + Duration.ofDays(5).toMillis());
                assertThat(r.failureClass()).isEqualTo(FailureClass.MAILBOX_FULL);
            });
        });
        Envelope retry = w.stream().filter(x -> TOPICS.isRetryTier(x.topic()))
                .map(x -> RecordCodec.decode(x.value(), Envelope.class).metadata()).findFirst().orElseThrow();
        assertThat(retry.delayWarned()).isTrue();
        assertThat(notices(of(retry, deferred("a@x.test")))).isEmpty();
        assertThat(notices(of(envelope("s@c.test", Duration.ofHours(1).toMillis(), false, Recipient.of("a@x.test")),
                deferred("a@x.test")))).isEmpty();
    }

    @Test
    void reportsSuccessOnlyWhereTheNextHopCouldNot() {
        Recipient asked = new Recipient("a@x.test", null, Set.of(Notify.SUCCESS, Notify.FAILURE));
        Recipient other = new Recipient("b@x.test", null, Set.of(Notify.SUCCESS));
        Envelope env = envelope("s@c.test", 1000, false, asked, other, Recipient.of("c@x.test"));
        List<BounceRequest> n = notices(of(env,
                new Verdict.Delivered("a@x.test", EnhancedStatus.parse("2.0.0"), remote("250 2.0.0 ok", false), "sent"),
                new Verdict.Delivered("b@x.test", EnhancedStatus.parse("2.0.0"), remote("250 2.0.0 ok", true), "sent"),
                new Verdict.Delivered("c@x.test", EnhancedStatus.parse("2.0.0"), remote("250 2.0.0 ok", false), "sent")));
        assertThat(n).singleElement().satisfies(b -> assertThat(b.reports()).singleElement().satisfies(r -> {
            assertThat(r.recipient().address()).isEqualTo("a@x.test");
            assertThat(r.action()).isEqualTo(Action.RELAYED);
            assertThat(r.failureClass()).isNull();
        }));
    }

    @Test
    void suppressesAddressesThatBouncedAsUnknown() {
        Envelope env = envelope("s@c.test", 1000, false, Recipient.of("Gone@X.test"), Recipient.of("full@x.test"),
                Recipient.of("local@x.test"));
        List<AttemptRecords.Write> w = of(env,
                new Verdict.Failed("Gone@X.test", EnhancedStatus.parse("5.1.1"), remote("550 5.1.1 user unknown", false), "x"),
                new Verdict.Failed("full@x.test", EnhancedStatus.parse("5.2.2"), remote("552 5.2.2 over quota", false), "x"),
                new Verdict.Failed("local@x.test", EnhancedStatus.parse("5.1.1"), null, "suppressed already"));
        List<AttemptRecords.Write> s = w.stream().filter(x -> x.topic().equals(TOPICS.suppression())).toList();
        assertThat(s).singleElement().satisfies(x -> {
            assertThat(x.key()).isEqualTo("gone@x.test");
            SuppressionEntry e = RecordCodec.decode(x.value(), SuppressionEntry.class).metadata();
            assertThat(e.expiresAtMillis()).isEqualTo(NOW + Duration.ofDays(30).toMillis());
            assertThat(e.reason()).contains("user unknown");
        });
        assertThat(notices(w)).singleElement().satisfies(b -> assertThat(b.reports()).hasSize(3));
        DeliveryEvent e = w.stream().filter(x -> x.topic().equals(TOPICS.events()))
                .map(x -> RecordCodec.decode(x.value(), DeliveryEvent.class).metadata()).findFirst().orElseThrow();
        assertThat(e.failureClass()).isEqualTo(FailureClass.INVALID_MAILBOX);
    }

    /** Issue 30: the delivery log says which DKIM signatures the edge added, and a retry keeps them. */
    @Test
    void eachEventAndTheRetryCarryTheSignaturesTheEdgeAdded() {
        List<String> dkim = List.of("d=example.org s=r1 a=rsa-sha256", "d=example.org s=e1 a=ed25519-sha256");
        Envelope env = envelope("s@c.test", 1000, false, Recipient.of("a@x.test"), Recipient.of("b@x.test")).signedWith(dkim);
        List<AttemptRecords.Write> w = of(env, new Verdict.Delivered("a@x.test", EnhancedStatus.parse("2.0.0"), remote("250 ok", false), "sent"),
                new Verdict.Deferred("b@x.test", EnhancedStatus.parse("4.2.1"), remote("450 busy", false), "busy"));
        List<DeliveryEvent> events = w.stream().filter(x -> x.topic().equals(TOPICS.events()))
                .map(x -> RecordCodec.decode(x.value(), DeliveryEvent.class).metadata()).toList();
        assertThat(events).hasSize(2).allSatisfy(e -> assertThat(e.dkim()).isEqualTo(dkim));
        assertThat(w.stream().filter(x -> TOPICS.isRetryTier(x.topic())).toList()).singleElement()
                .satisfies(r -> assertThat(RecordCodec.decode(r.value(), Envelope.class).metadata().dkim()).isEqualTo(dkim));
        assertThat(RecordCodec.decode(RecordCodec.encode(new DeliveryEvent(QueueId.of("Q2"), "a@x.test",
                DeliveryEvent.Outcome.DELIVERED, 1, NOW, null, null, "250 ok", "2.0.0", 1, null, null)), DeliveryEvent.class)
                .metadata().dkim()).as("an event of an unsigned message").isEmpty();
    }

    /**
     * Issue 15, defect 6: a verdict that is not a final word (here "try the next server", which should
     * never leave the delivery) fell through to "delivered". It fails closed now: a deferral and a retry.
     */
    @Test
    void aVerdictThatIsNotAFinalWordIsRetriedNotDelivered() {
        Envelope env = envelope("s@c.test", 1000, false, Recipient.of("a@x.test"), Recipient.of("b@x.test"));
        List<AttemptRecords.Write> w = of(env,
                new Verdict.TryNext("a@x.test", EnhancedStatus.parse("4.4.1"), "connect to mx1 refused"),
                new Verdict.TryWithoutTls("b@x.test", EnhancedStatus.parse("4.7.5"), "handshake failed"));
        List<DeliveryEvent> events = w.stream().filter(x -> x.topic().equals(TOPICS.events()))
                .map(x -> RecordCodec.decode(x.value(), DeliveryEvent.class).metadata()).toList();
        assertThat(events).extracting(DeliveryEvent::outcome).containsOnly(DeliveryEvent.Outcome.DEFERRED).hasSize(2);
        List<AttemptRecords.Write> retries = w.stream().filter(x -> TOPICS.isRetryTier(x.topic())).toList();
        assertThat(retries).singleElement().satisfies(r -> assertThat(RecordCodec.decode(r.value(), Envelope.class)
                .metadata().recipients()).extracting(Recipient::address).containsExactlyInAnyOrder("a@x.test", "b@x.test"));
    }

    @Test
    void neverNotifiesTheNullSender() {
        Envelope env = envelope("", Duration.ofHours(5).toMillis(), false, Recipient.of("a@x.test"), Recipient.of("b@x.test"));
        assertThat(notices(of(env, deferred("a@x.test"),
                new Verdict.Failed("b@x.test", EnhancedStatus.parse("5.1.1"), remote("550 5.1.1 no", false), "x")))).isEmpty();
    }

    /**
     * Issue 29: a remote MX that answers each of many RCPTs with 56 KB. Each reply is kept to its budget,
     * and a bounce request that would still pass the broker's limit is made to fit, cut and then split:
     * before, it was one record of tens of megabytes that the broker refused, for ever.
     */
    @Test
    void aHostileMxsRepliesAreBoundedAndEveryBounceRequestFitsTheRecordLimit() {
        int limit = 64 * 1024;
        AttemptRecords bounded = new AttemptRecords(TOPICS, SCHEDULE, "relay.test", new SplittableRandom(1), Duration.ofHours(4),
                Duration.ZERO, AttemptObserver.NONE, limit);
        String huge = "550 5.7.1 " + "z".repeat(56 * 1024);
        List<Recipient> rcpts = new java.util.ArrayList<>();
        List<Verdict> verdicts = new java.util.ArrayList<>();
        for (int i = 0; i < 300; i++) {
            rcpts.add(Recipient.of("r" + i + "@x.test"));
            verdicts.add(new Verdict.Failed("r" + i + "@x.test", EnhancedStatus.parse("5.7.1"), remote(huge, false),
                    "host mx.test[192.0.2.1] said: " + huge + " (in reply to RCPT TO command)"));
        }
        assertThat(verdicts.get(0).explanation().length()).isLessThanOrEqualTo(ReplyText.ACCOUNT);
        List<AttemptRecords.Write> w = bounded.of(envelope("s@c.test", 0, false, rcpts.toArray(Recipient[]::new)), MESSAGE, 0,
                MESSAGE.length, verdicts, NOW - 100, NOW);

        assertThat(w).allSatisfy(x -> assertThat(x.value().length).as(x.topic()).isLessThanOrEqualTo(limit));
        List<BounceRequest> n = notices(w);
        assertThat(n).hasSizeGreaterThan(1);
        assertThat(n.stream().flatMap(b -> b.reports().stream()).map(r -> r.recipient().address()))
                .as("every recipient once").containsExactlyInAnyOrderElementsOf(rcpts.stream().map(Recipient::address).toList());
        assertThat(n.stream().flatMap(b -> b.reports().stream())).allSatisfy(r -> {
            assertThat(r.diagnostic().length()).isLessThanOrEqualTo(AttemptRecords.SHORT_DIAGNOSTIC);
            assertThat(r.diagnostic()).startsWith("smtp; 550 5.7.1 zzz");
        });

        List<BounceRequest> one = notices(bounded.of(envelope("s@c.test", 0, false, rcpts.subList(0, 20).toArray(Recipient[]::new)),
                MESSAGE, 0, MESSAGE.length, verdicts.subList(0, 20), NOW - 100, NOW));
        assertThat(one).as("twenty fit whole").singleElement().satisfies(b -> assertThat(b.reports().get(0).diagnostic())
                .hasSizeGreaterThan(ReplyText.BUDGET - 100).endsWith("bytes, cut)"));
    }

    /**
     * Issue 29, item 6: a record the broker refuses for good is replaced, one step further at each
     * refusal, and never sent again as it was: a retry keeps a short diagnostic, then its recipients fail
     * (5.3.4) with a bounce request; a bounce request returns headers only, then no content in halves, then
     * nothing; an event keeps a short reply, then nothing.
     */
    @Test
    void aRecordRefusedForGoodIsReplacedBySomethingSmallerStepByStep() {
        String longDiagnostic = "452 4.2.2 " + "z".repeat(1_500);
        Envelope env = envelope("s@c.test", 1_000, false, Recipient.of("a@x.test"), Recipient.of("b@x.test"))
                .forRetry(List.of(Recipient.of("a@x.test"), Recipient.of("b@x.test")), 3, NOW + 60_000, longDiagnostic);
        byte[] big = ("Subject: big\r\nX-Trace: t\r\n\r\n" + "body\r\n".repeat(2_000)).getBytes();
        AttemptRecords.Write retry = new AttemptRecords.Write(TOPICS.retryTier(Duration.ofMinutes(5)), "Q1",
                RecordCodec.encode(env, big, 0, big.length), NOW + 60_000);

        AttemptRecords.Instead first = records.refused(retry, 0, "too large", NOW);
        assertThat(first.failed()).isEmpty();
        RecordCodec.Decoded<Envelope> shorter = RecordCodec.decode(first.writes().get(0).value(), Envelope.class);
        assertThat(shorter.metadata().lastDiagnostic()).hasSizeLessThan(400).startsWith("452 4.2.2 zzz");
        assertThat(shorter.messageCopy()).isEqualTo(big);
        assertThat(first.writes().get(0).notBeforeMillis()).isEqualTo(NOW + 60_000);

        AttemptRecords.Instead second = records.refused(first.writes().get(0), 1, "too large", NOW);
        assertThat(second.failed()).extracting(Verdict::recipient).containsExactly("a@x.test", "b@x.test");
        assertThat(second.failed()).allSatisfy(v -> assertThat(v.status()).hasToString("5.3.4"));
        assertThat(second.writes()).filteredOn(w -> w.topic().equals(TOPICS.events())).hasSize(2)
                .allSatisfy(w -> assertThat(RecordCodec.decode(w.value(), DeliveryEvent.class).metadata().outcome())
                        .isEqualTo(DeliveryEvent.Outcome.FAILED));
        AttemptRecords.Write notice = second.writes().stream().filter(records::isBounceRequest).findFirst().orElseThrow();
        assertThat(notices(List.of(notice))).singleElement().satisfies(b -> assertThat(b.reports())
                .allSatisfy(r -> assertThat(r.status()).isEqualTo("5.3.4")));

        AttemptRecords.Instead headers = records.refused(notice, 0, "too large", NOW);
        RecordCodec.Decoded<BounceRequest> h = RecordCodec.decode(headers.writes().get(0).value(), BounceRequest.class);
        assertThat(new String(h.messageCopy())).isEqualTo("Subject: big\r\nX-Trace: t\r\n\r\n");
        assertThat(h.metadata().envelope().dsnReturn()).hasToString("HDRS");

        AttemptRecords.Instead halves = records.refused(headers.writes().get(0), 1, "too large", NOW);
        assertThat(halves.writes()).hasSize(2).allSatisfy(w -> {
            RecordCodec.Decoded<BounceRequest> d = RecordCodec.decode(w.value(), BounceRequest.class);
            assertThat(d.messageLength()).isZero();
            assertThat(d.metadata().reports()).hasSize(1);
        });
        AttemptRecords.Instead last = records.refused(halves.writes().get(0), 2, "too large", NOW);
        assertThat(last.writes()).isEmpty();

        AttemptRecords.Write event = of(env, deferred("a@x.test")).stream().filter(w -> w.topic().equals(TOPICS.events()))
                .findFirst().orElseThrow();
        AttemptRecords.Instead shortEvent = records.refused(event, 0, "too large", NOW);
        assertThat(shortEvent.writes()).singleElement().satisfies(w -> assertThat(w.topic()).isEqualTo(TOPICS.events()));
        assertThat(records.refused(shortEvent.writes().get(0), 1, "too large", NOW).writes()).isEmpty();
    }
}
