package net.mailrelay.bounce.dsn;

import java.time.ZoneId;
import java.util.Date;
import java.util.List;
import java.util.TimeZone;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Envelope;
import org.apache.james.mime4j.util.MimeUtil;

/**
 * The machine-readable part, message/delivery-status (RFC 3464 section 2): the per-message fields,
 * then one block of per-recipient fields for each reported recipient, blocks separated by a blank
 * line. Every value is made one line, then folded like a header field.
 */
final class DeliveryStatus {

    // A diagnostic that already names its type ("smtp; 550 ...", "X-Postfix; ...") keeps it.
    private static final Pattern TYPED = Pattern.compile("(?i)(smtp|x-[a-z0-9-]+)\\s*;\\s*(.*)");
    private static final Pattern SMTP_REPLY = Pattern.compile("[2-5]\\d\\d([ -].*)?");

    private final TimeZone zone;

    DeliveryStatus(ZoneId zone) {
        this.zone = TimeZone.getTimeZone(zone);
    }

    String render(BounceRequest request, String reportingMta, List<RecipientReport> reports) {
        StringBuilder out = new StringBuilder();
        Envelope envelope = request.envelope();
        field(out, "Reporting-MTA", "dns; " + reportingMta);
        field(out, "X-Mail-Relay-Queue-ID", envelope.queueId().value());
        if (envelope.envelopeId() != null) {
            field(out, "Original-Envelope-Id", XText.decode(envelope.envelopeId()));
        }
        if (envelope.arrivedAtMillis() > 0) {
            field(out, "Arrival-Date", date(envelope.arrivedAtMillis()));
        }
        for (RecipientReport r : reports) {
            out.append("\r\n");
            if (r.recipient().originalRecipient() != null) {
                field(out, "Original-Recipient", originalRecipient(r.recipient().originalRecipient()));
            }
            field(out, "Final-Recipient", "rfc822; " + r.recipient().address());
            field(out, "Action", r.action().fieldValue());
            field(out, "Status", r.status());
            if (r.remoteMta() != null && !r.remoteMta().isBlank()) {
                field(out, "Remote-MTA", "dns; " + r.remoteMta());
            }
            String diagnostic = diagnosticCode(r);
            if (diagnostic != null) {
                field(out, "Diagnostic-Code", diagnostic);
            }
            if (r.lastAttemptMillis() > 0) {
                field(out, "Last-Attempt-Date", date(r.lastAttemptMillis()));
            }
        }
        return out.toString();
    }

    String date(long epochMillis) {
        return MimeUtil.formatDate(new Date(epochMillis), zone);
    }

    /**
     * RFC 3464 section 2.3.6: "smtp; reply" when a server answered. A local explanation (no server
     * reached) is typed as ours, as Postfix types its own with "X-Postfix".
     */
    static String diagnosticCode(RecipientReport r) {
        String d = FieldText.oneLine(r.diagnostic());
        if (d == null || d.isEmpty()) {
            return null;
        }
        Matcher typed = TYPED.matcher(d);
        if (typed.matches()) {
            return typed.group(1) + "; " + typed.group(2);
        }
        boolean fromServer = (r.remoteMta() != null && !r.remoteMta().isBlank()) || SMTP_REPLY.matcher(d).matches();
        return (fromServer ? "smtp; " : "X-Mail-Relay; ") + d;
    }

    /** The diagnostic as a person reads it: the reply text without its type. */
    static String diagnosticText(RecipientReport r) {
        String d = FieldText.oneLine(r.diagnostic());
        if (d == null || d.isEmpty()) {
            return null;
        }
        Matcher typed = TYPED.matcher(d);
        return typed.matches() ? typed.group(2) : d;
    }

    /** ORCPT is "addr-type;xtext" (RFC 3461 section 4.2); the report carries it decoded. */
    private static String originalRecipient(String orcpt) {
        int semicolon = orcpt.indexOf(';');
        if (semicolon < 0) {
            return "rfc822;" + XText.decode(orcpt);
        }
        return orcpt.substring(0, semicolon).strip() + ";" + XText.decode(orcpt.substring(semicolon + 1));
    }

    private static void field(StringBuilder out, String name, String value) {
        out.append(MimeUtil.fold(name + ": " + FieldText.oneLine(value), 0)).append("\r\n");
    }

}
