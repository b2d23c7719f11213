package net.mailrelay.bounce.dsn;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TimeZone;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.FailureClassifier;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.QueueId;
import net.mailrelay.protocol.dkim.DkimSigner;
import org.apache.james.mime4j.dom.Body;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.field.Fields;
import org.apache.james.mime4j.message.BasicBodyFactory;
import org.apache.james.mime4j.message.BodyPart;
import org.apache.james.mime4j.message.BodyPartBuilder;
import org.apache.james.mime4j.message.DefaultMessageWriter;
import org.apache.james.mime4j.message.MultipartBuilder;
import org.apache.james.mime4j.stream.NameValuePair;
import org.apache.james.mime4j.stream.RawField;

/**
 * Composes the delivery status notification for one bounce request (Postfix's bounce_notify_service):
 * a multipart/report (RFC 6522) with a human-readable explanation, a message/delivery-status part
 * (RFC 3464) and the original message or its header block (RFC 3461 section 4.3 RET). A message sent
 * with SMTPUTF8, or a report about a UTF-8 address, gets the RFC 6533 global types instead. It decides
 * who hears about what (RFC 3461 NOTIFY) and refuses to answer the null sender: a bounce of a bounce
 * could loop forever.
 */
public final class DsnComposer {

    private static final String PREAMBLE = "This is a MIME-encapsulated message.\r\n";

    private final String hostname;
    private final Clock clock;
    private final int returnSizeLimit;
    private final DeliveryStatus deliveryStatus;
    private final java.util.function.Supplier<List<DkimSigner>> signers;

    public DsnComposer(String hostname, Clock clock, int returnSizeLimit) {
        this(hostname, clock, returnSizeLimit, List.of());
    }

    /**
     * @param returnSizeLimit the largest original (in bytes) a failure notice returns whole, and the most
     *     header bytes any notice returns (Postfix's bounce_size_limit)
     * @param signers the DKIM keys of the relay's own domain, which sign every notice; none, none signs
     */
    public DsnComposer(String hostname, Clock clock, int returnSizeLimit, List<DkimSigner> signers) {
        this(hostname, clock, returnSizeLimit, fixed(signers));
    }

    private static java.util.function.Supplier<List<DkimSigner>> fixed(List<DkimSigner> signers) {
        List<DkimSigner> copy = List.copyOf(signers);
        return () -> copy;
    }

    /** @param signers asked at each notice: the keys of the relay's own domain now (queue reload-dkim changes them) */
    public DsnComposer(String hostname, Clock clock, int returnSizeLimit, java.util.function.Supplier<List<DkimSigner>> signers) {
        this.signers = Objects.requireNonNull(signers, "signers");
        this.hostname = FieldText.oneLine(Objects.requireNonNull(hostname, "hostname"));
        this.clock = Objects.requireNonNull(clock, "clock");
        if (returnSizeLimit <= 0) {
            throw new IllegalArgumentException("return size limit must be > 0 bytes, not " + returnSizeLimit);
        }
        this.returnSizeLimit = returnSizeLimit;
        this.deliveryStatus = new DeliveryStatus(clock.getZone());
    }

    /**
     * The notification for the request, or empty when there must be none: the original sender is the
     * null reverse path, or no reported recipient asked to hear about its outcome.
     */
    public Optional<Dsn> compose(BounceRequest request, byte[] message, int offset, int length, QueueId newQueueId) {
        Objects.checkFromIndexSize(offset, length, message.length);
        Envelope original = request.envelope();
        if (original.hasNullReversePath()) {
            return Optional.empty();
        }
        List<RecipientReport> reports = request.reports().stream()
                .filter(DsnComposer::wanted)
                .map(DsnComposer::classified)
                .toList();
        if (reports.isEmpty()) {
            return Optional.empty();
        }
        Dsn.Kind kind = kindOf(reports);
        boolean global = DeliveryStatus.needsUtf8(original, reports);
        byte[] headers = OriginalHeaders.extract(message, offset, length, returnSizeLimit);
        ReturnedOriginal returned = ReturnedOriginal.choose(kind, original, message, offset, length, headers,
                returnSizeLimit, global);
        byte[] text = Explanation.render(kind, hostname, reports, returned.whole(), retryUntil(reports))
                .getBytes(StandardCharsets.UTF_8);
        String reportingMta = request.reportingMta().isBlank() ? hostname : request.reportingMta();
        byte[] status = deliveryStatus.render(request, reportingMta, reports, global).getBytes(StandardCharsets.UTF_8);
        String boundary = boundary(newQueueId, text, status, returned.content());
        // UTF-8 in the report's fields or in the returned header fields needs SMTPUTF8 on the way back.
        boolean smtpUtf8 = !FieldText.isAscii(original.reversePath()) || global && eightBit(status, headers);
        try {
            Message dsn = topLevel(original, kind, newQueueId, boundary, eightBit(text, status, returned.content()), global)
                    .setBody((Body) parts(text, status, returned, global))
                    .build();
            return Optional.of(new Dsn(kind, signed(DefaultMessageWriter.asBytes(dsn)), smtpUtf8));
        } catch (IOException e) {
            // Writing to memory does not fail.
            throw new UncheckedIOException(e);
        }
    }

    /** The notice with a DKIM-Signature per key of the relay's domain in front (From is MAILER-DAEMON@hostname). */
    private byte[] signed(byte[] message) {
        List<DkimSigner> keys = signers.get();
        if (keys.isEmpty()) {
            return message;
        }
        StringBuilder fields = new StringBuilder();
        for (DkimSigner s : keys) {
            fields.append(s.sign(message, clock.instant().getEpochSecond()));
        }
        byte[] head = fields.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] out = java.util.Arrays.copyOf(head, head.length + message.length);
        System.arraycopy(message, 0, out, head.length, message.length);
        return out;
    }

    /**
     * RFC 3461 section 4.1: NEVER silences a recipient; an explicit NOTIFY list silences the kinds it
     * does not name; with none given, failures and delays are reported and successes are not. (Whether
     * a delay is reported at all is the worker's delay warning setting: it sends no delay request otherwise.)
     */
    static boolean wanted(RecipientReport report) {
        var notify = report.recipient().notifyOn();
        if (notify.contains(Notify.NEVER)) {
            return false;
        }
        Notify asked = switch (report.action()) {
            case FAILED -> Notify.FAILURE;
            case DELAYED -> Notify.DELAY;
            case DELIVERED, RELAYED, EXPANDED -> Notify.SUCCESS;
        };
        return notify.isEmpty() ? asked != Notify.SUCCESS : notify.contains(asked);
    }

    /** A failure or delay the worker did not classify is classified here: every notice says why. */
    private static RecipientReport classified(RecipientReport r) {
        if (r.failureClass() != null || r.action() != Action.FAILED && r.action() != Action.DELAYED) {
            return r;
        }
        return new RecipientReport(r.recipient(), r.action(), r.status(), r.remoteMta(), r.diagnostic(),
                r.lastAttemptMillis(), r.willRetryUntilMillis(), FailureClassifier.classify(r.status(), r.diagnostic()));
    }

    /** The latest Will-Retry-Until of the delays, as a date for the explanation; null when none says. */
    private String retryUntil(List<RecipientReport> reports) {
        long until = reports.stream().filter(r -> r.action() == Action.DELAYED)
                .mapToLong(RecipientReport::willRetryUntilMillis).max().orElse(0);
        return until > 0 ? deliveryStatus.date(until) : null;
    }

    private static Dsn.Kind kindOf(List<RecipientReport> reports) {
        if (reports.stream().anyMatch(r -> r.action() == Action.FAILED)) {
            return Dsn.Kind.NON_DELIVERY;
        }
        if (reports.stream().anyMatch(r -> r.action() == Action.DELAYED)) {
            return Dsn.Kind.DELAY;
        }
        return Dsn.Kind.SUCCESS;
    }

    private Message.Builder topLevel(Envelope original, Dsn.Kind kind, QueueId newQueueId, String boundary,
            boolean eightBit, boolean global) {
        Message.Builder m = Message.Builder.of()
                .addField(new RawField("From", "Mail Delivery System <MAILER-DAEMON@" + hostname + ">"))
                .addField(new RawField("To", "<" + FieldText.oneLine(original.reversePath()) + ">"))
                .addField(new RawField("Subject", kind.subject()))
                .addField(Fields.date("Date", Date.from(clock.instant()), TimeZone.getTimeZone(clock.getZone())))
                .addField(new RawField("Message-ID", "<" + newQueueId.value() + "@" + hostname + ">"))
                // RFC 3834 section 5: an automatic reply; well-behaved responders will not answer it.
                .addField(new RawField("Auto-Submitted", "auto-replied"))
                .addField(Fields.version("1.0"))
                // RFC 6522: report-type names the second part's subtype, so a global report says global-delivery-status.
                .addField(Fields.contentType("multipart/report",
                        new NameValuePair("report-type", global ? "global-delivery-status" : "delivery-status"),
                        new NameValuePair("boundary", boundary)));
        if (eightBit) {
            m.addField(Fields.contentTransferEncoding("8bit"));
        }
        return m;
    }

    private static Multipart parts(byte[] text, byte[] status, ReturnedOriginal returned, boolean global) {
        MultipartBuilder parts = MultipartBuilder.create("report").setPreamble(PREAMBLE);
        parts.addBodyPart(part("Notification", Fields.contentType("text/plain", new NameValuePair("charset", "utf-8")), text));
        parts.addBodyPart(part("Delivery report",
                Fields.contentType(global ? "message/global-delivery-status" : "message/delivery-status"), status));
        parts.addBodyPart(part(returned.description(), Fields.contentType(returned.contentType()), returned.content()));
        return parts.build();
    }

    // Bodies are raw bytes so that mime4j writes them untouched; the part type comes from its own field.
    private static BodyPart part(String description, org.apache.james.mime4j.stream.Field contentType, byte[] content) {
        BodyPartBuilder part = BodyPartBuilder.create();
        part.setBody((Body) BasicBodyFactory.INSTANCE.binaryBody(content));
        part.addField(new RawField("Content-Description", description));
        part.addField(contentType);
        if (eightBit(content)) {
            part.addField(Fields.contentTransferEncoding("8bit"));
        }
        return part.build();
    }

    /**
     * Postfix's boundary shape, queue id, time and host. The queue id is random, so quoted text cannot
     * predict it; still, a part that happens to contain it gets a longer boundary.
     */
    private String boundary(QueueId newQueueId, byte[]... contents) {
        String base = newQueueId.value() + "." + clock.instant().getEpochSecond() + "/" + hostname;
        String boundary = base;
        for (int n = 1; containsLine(contents, "--" + boundary); n++) {
            boundary = base + "." + n;
        }
        return boundary;
    }

    private static boolean containsLine(byte[][] contents, String delimiter) {
        for (byte[] content : contents) {
            if (new String(content, StandardCharsets.ISO_8859_1).contains(delimiter)) {
                return true;
            }
        }
        return false;
    }

    private static boolean eightBit(byte[]... contents) {
        for (byte[] content : contents) {
            for (byte b : content) {
                if (b < 0) {
                    return true;
                }
            }
        }
        return false;
    }
}
