package net.mailrelay.bounce.dsn;

import java.util.List;
import net.mailrelay.protocol.dsn.RecipientReport;

/**
 * The human-readable first part (RFC 6522 section 3): Postfix's bounce templates in spirit, then one
 * paragraph per recipient saying what the remote server said, or what went wrong here, and why in
 * plain words.
 */
final class Explanation {

    private static final int WIDTH = 76;
    private static final String CONTINUATION = "    ";
    private static final String SIGNATURE = "                   The mail system";
    private static final String ASSISTANCE = """

            For further assistance, please send mail to postmaster.

            If you do so, please include this problem report.
            """;
    private static final String WARNING = """
            ####################################################################
            # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
            ####################################################################

            """;
    private static final String SUCCESS = """
            Your message was successfully delivered to the destination(s)
            listed below. If the message was delivered to mailbox you will
            receive no further notifications. Otherwise you may still receive
            notifications of mail delivery errors from other systems.
            """;

    private Explanation() {
    }

    /**
     * @param wholeMessage whether the notice returns the whole message rather than its headers
     * @param retryUntil for a delay: when the relay gives up, as a date; null when not known
     */
    static String render(Dsn.Kind kind, String host, List<RecipientReport> reports, boolean wholeMessage,
            String retryUntil) {
        StringBuilder out = new StringBuilder();
        out.append("This is the mail system at host ").append(host).append(".\n\n");
        out.append(switch (kind) {
            case NON_DELIVERY -> "I'm sorry to have to inform you that your message could not\n"
                    + "be delivered to one or more recipients. "
                    + (wholeMessage ? "It's attached below.\n" : "Its headers are attached\nbelow.\n") + ASSISTANCE;
            case DELAY -> WARNING + wrap("Delivery to the following recipients was delayed. The mail system will"
                    + " keep trying to deliver your message" + (retryUntil == null ? "" : " until " + retryUntil)
                    + ".", "", "") + "\n" + ASSISTANCE;
            case SUCCESS -> SUCCESS;
        });
        out.append('\n').append(SIGNATURE).append('\n');
        for (RecipientReport r : reports) {
            out.append('\n').append(wrap(recipientLine(r), "", CONTINUATION)).append('\n');
            if (r.failureClass() != null) {
                out.append(wrap("Reason: " + r.failureClass().meaning() + ".", CONTINUATION, CONTINUATION)).append('\n');
            }
        }
        return out.toString().replace("\n", "\r\n");
    }

    private static String recipientLine(RecipientReport r) {
        String who = "<" + FieldText.oneLine(r.recipient().address()) + ">: ";
        String said = DeliveryStatus.diagnosticText(r);
        String remote = FieldText.oneLine(r.remoteMta());
        String heard = said == null ? null
                : remote != null && !remote.isEmpty() ? "host " + remote + " said: " + said : said;
        return who + switch (r.action()) {
            case FAILED -> heard != null ? heard : "delivery failed, status " + r.status();
            case DELAYED -> heard != null ? heard : "delivery delayed, status " + r.status();
            case DELIVERED -> "delivered" + (heard == null ? "" : "; " + heard);
            // RFC 3464 section 2.3.3: the next hop takes no DSN request, so no further report will come.
            case RELAYED -> "relayed to a system that does not report delivery status"
                    + (heard == null ? "" : "; " + heard);
            case EXPANDED -> "expanded to other recipients" + (heard == null ? "" : "; " + heard);
        };
    }

    /** Breaks at spaces before the width; continuation lines are indented, as Postfix does. */
    static String wrap(String line, String firstIndent, String indent) {
        StringBuilder out = new StringBuilder();
        String lead = firstIndent;
        String rest = line;
        while (lead.length() + rest.length() > WIDTH) {
            int cut = rest.lastIndexOf(' ', WIDTH - lead.length());
            if (cut <= 0) {
                cut = rest.indexOf(' ');
                if (cut < 0) {
                    break;
                }
            }
            out.append(lead).append(rest, 0, cut).append('\n');
            rest = rest.substring(cut + 1).stripLeading();
            lead = indent;
        }
        return out.append(lead).append(rest).toString();
    }
}
