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
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Notify;
import net.mailrelay.protocol.envelope.QueueId;
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
 * (RFC 3464) and the original message's header block. It decides who hears about what (RFC 3461
 * NOTIFY) and refuses to answer the null sender: a bounce of a bounce could loop forever.
 */
public final class DsnComposer {

    private static final String PREAMBLE = "This is a MIME-encapsulated message.\r\n";

    private final String hostname;
    private final Clock clock;
    private final DeliveryStatus deliveryStatus;

    public DsnComposer(String hostname, Clock clock) {
        this.hostname = FieldText.oneLine(Objects.requireNonNull(hostname, "hostname"));
        this.clock = Objects.requireNonNull(clock, "clock");
        this.deliveryStatus = new DeliveryStatus(clock.getZone());
    }

    /**
     * The notification for the request, or empty when there must be none: the original sender is the
     * null reverse path, or no reported recipient asked to hear about its outcome.
     */
    public Optional<Dsn> compose(BounceRequest request, byte[] message, int offset, int length, QueueId newQueueId) {
        Objects.checkFromIndexSize(offset, length, message.length);
        if (request.envelope().hasNullReversePath()) {
            return Optional.empty();
        }
        List<RecipientReport> reports = request.reports().stream().filter(DsnComposer::wanted).toList();
        if (reports.isEmpty()) {
            return Optional.empty();
        }
        Dsn.Kind kind = kindOf(reports);
        byte[] text = Explanation.render(kind, hostname, reports).getBytes(StandardCharsets.UTF_8);
        String reportingMta = request.reportingMta().isBlank() ? hostname : request.reportingMta();
        byte[] status = deliveryStatus.render(request, reportingMta, reports).getBytes(StandardCharsets.UTF_8);
        byte[] headers = OriginalHeaders.extract(message, offset, length);
        String boundary = boundary(newQueueId, text, status, headers);
        try {
            Message dsn = topLevel(request, kind, newQueueId, boundary, eightBit(text, status, headers))
                    .setBody((Body) parts(text, status, headers))
                    .build();
            return Optional.of(new Dsn(kind, DefaultMessageWriter.asBytes(dsn)));
        } catch (IOException e) {
            // Writing to memory does not fail.
            throw new UncheckedIOException(e);
        }
    }

    /**
     * RFC 3461 section 4.1: NEVER silences a recipient; an explicit NOTIFY list silences the kinds it
     * does not name; with none given, failures and delays are reported and successes are not.
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

    private static Dsn.Kind kindOf(List<RecipientReport> reports) {
        if (reports.stream().anyMatch(r -> r.action() == Action.FAILED)) {
            return Dsn.Kind.NON_DELIVERY;
        }
        if (reports.stream().anyMatch(r -> r.action() == Action.DELAYED)) {
            return Dsn.Kind.DELAY;
        }
        return Dsn.Kind.SUCCESS;
    }

    private Message.Builder topLevel(BounceRequest request, Dsn.Kind kind, QueueId newQueueId, String boundary,
            boolean eightBit) {
        Message.Builder m = Message.Builder.of()
                .addField(new RawField("From", "Mail Delivery System <MAILER-DAEMON@" + hostname + ">"))
                .addField(new RawField("To", "<" + FieldText.oneLine(request.envelope().reversePath()) + ">"))
                .addField(new RawField("Subject", kind.subject()))
                .addField(Fields.date("Date", Date.from(clock.instant()), TimeZone.getTimeZone(clock.getZone())))
                .addField(new RawField("Message-ID", "<" + newQueueId.value() + "@" + hostname + ">"))
                // RFC 3834 section 5: an automatic reply; well-behaved responders will not answer it.
                .addField(new RawField("Auto-Submitted", "auto-replied"))
                .addField(Fields.version("1.0"))
                .addField(Fields.contentType("multipart/report",
                        new NameValuePair("report-type", "delivery-status"), new NameValuePair("boundary", boundary)));
        if (eightBit) {
            m.addField(Fields.contentTransferEncoding("8bit"));
        }
        return m;
    }

    private static Multipart parts(byte[] text, byte[] status, byte[] headers) {
        MultipartBuilder parts = MultipartBuilder.create("report").setPreamble(PREAMBLE);
        parts.addBodyPart(part("Notification", Fields.contentType("text/plain", new NameValuePair("charset", "utf-8")), text));
        parts.addBodyPart(part("Delivery report", Fields.contentType("message/delivery-status"), status));
        // RET=FULL (the whole message) is not offered yet: every notice returns headers only.
        parts.addBodyPart(part("Undelivered Message Headers", Fields.contentType("text/rfc822-headers"), headers));
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
