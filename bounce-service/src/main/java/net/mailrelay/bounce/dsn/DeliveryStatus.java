package net.mailrelay.bounce.dsn;

import java.time.ZoneId;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.TimeZone;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.mailrelay.protocol.dsn.Action;
import net.mailrelay.protocol.dsn.BounceRequest;
import net.mailrelay.protocol.dsn.FailureClass;
import net.mailrelay.protocol.dsn.RecipientReport;
import net.mailrelay.protocol.envelope.Envelope;
import org.apache.james.mime4j.util.MimeUtil;

/**
 * The machine-readable part, message/delivery-status (RFC 3464 section 2) or, when the message or an
 * address needs UTF-8, message/global-delivery-status (RFC 6533 section 6.2): the per-message fields,
 * then one block of per-recipient fields for each reported recipient, blocks separated by a blank
 * line. Every value is made one line, then folded like a header field.
 */
final class DeliveryStatus {

    /** Our extension field (RFC 3464 section 2.4 "X-" fields): why delivery failed or is delayed. */
    static final String FAILURE_CLASS_FIELD = "X-Mail-Relay-Failure-Class";

    // A diagnostic that already names its type ("smtp; 550 ...", "X-Postfix; ...") keeps it.
    private static final Pattern TYPED = Pattern.compile("(?i)(smtp|x-[a-z0-9-]+)\\s*;\\s*(.*)");
    private static final Pattern SMTP_REPLY = Pattern.compile("[2-5]\\d\\d([ -].*)?");

    private final TimeZone zone;

    DeliveryStatus(ZoneId zone) {
        this.zone = TimeZone.getTimeZone(zone);
    }

    /**
     * @param global an RFC 6533 report: UTF-8 allowed, non-ASCII addresses typed "utf-8". Otherwise the
     *     part is US-ASCII, as RFC 3464 wants, and any other non-ASCII text is replaced
     */
    String render(BounceRequest request, String reportingMta, List<RecipientReport> reports, boolean global) {
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
            recipient(out, r);
        }
        return global ? out.toString() : FieldText.ascii(out.toString());
    }

    /** RFC 3464 section 2.3, in its order, then our extension. */
    private void recipient(StringBuilder out, RecipientReport r) {
        if (r.recipient().originalRecipient() != null) {
            field(out, "Original-Recipient", originalRecipient(r.recipient().originalRecipient()));
        }
        String address = r.recipient().address();
        field(out, "Final-Recipient", addressType(address) + "; " + address);
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
        // RFC 3464 section 2.3.9: only a delay notice says how long the relay will keep trying.
        if (r.action() == Action.DELAYED && r.willRetryUntilMillis() > 0) {
            field(out, "Will-Retry-Until", date(r.willRetryUntilMillis()));
        }
        if (r.failureClass() != null) {
            field(out, FAILURE_CLASS_FIELD, label(r.failureClass()));
        }
    }

    String date(long epochMillis) {
        return MimeUtil.formatDate(new Date(epochMillis), zone);
    }

    /** INVALID_MAILBOX becomes "invalid-mailbox". */
    static String label(FailureClass failureClass) {
        return failureClass.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * RFC 6533: the report must be a global one when the original was sent with SMTPUTF8 or an address
     * it reports (or the sender it goes to) is not ASCII.
     */
    static boolean needsUtf8(Envelope envelope, List<RecipientReport> reports) {
        if (envelope.smtpUtf8() || !FieldText.isAscii(envelope.reversePath())) {
            return true;
        }
        return reports.stream().anyMatch(r -> !FieldText.isAscii(r.recipient().address())
                || r.recipient().originalRecipient() != null
                        && !FieldText.isAscii(orcptAddress(r.recipient().originalRecipient())));
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

    /** RFC 6533 section 3: a non-ASCII address is of type utf-8 (only a global report has one). */
    private static String addressType(String address) {
        return FieldText.isAscii(address) ? "rfc822" : "utf-8";
    }

    /** ORCPT is "addr-type;xtext" (RFC 3461 section 4.2); the report carries it decoded. */
    private static String originalRecipient(String orcpt) {
        int semicolon = orcpt.indexOf(';');
        String type = semicolon < 0 ? "rfc822" : orcpt.substring(0, semicolon).strip();
        String address = orcptAddress(orcpt);
        return (FieldText.isAscii(address) ? type : "utf-8") + ";" + address;
    }

    private static String orcptAddress(String orcpt) {
        int semicolon = orcpt.indexOf(';');
        String address = XText.decode(orcpt.substring(semicolon + 1));
        boolean utf8Type = semicolon >= 0 && orcpt.substring(0, semicolon).strip().equalsIgnoreCase("utf-8");
        return utf8Type ? XText.decodeUnicode(address) : address;
    }

    private static void field(StringBuilder out, String name, String value) {
        out.append(MimeUtil.fold(name + ": " + FieldText.oneLine(value), 0)).append("\r\n");
    }
}
