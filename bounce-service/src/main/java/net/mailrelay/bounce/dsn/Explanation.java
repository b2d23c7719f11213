package net.mailrelay.bounce.dsn;

import java.util.List;
import net.mailrelay.protocol.dsn.RecipientReport;

/**
 * The human-readable first part (RFC 6522 section 3): Postfix's bounce templates in spirit, then one
 * paragraph per recipient saying what the remote server said, or what went wrong here.
 */
final class Explanation {

    private static final int WIDTH = 76;
    private static final String SIGNATURE = "                   The mail system";

    private Explanation() {
    }

    static String render(Dsn.Kind kind, String host, List<RecipientReport> reports) {
        StringBuilder out = new StringBuilder();
        out.append("This is the mail system at host ").append(host).append(".\n\n");
        out.append(switch (kind) {
            case NON_DELIVERY -> """
                    I'm sorry to have to inform you that your message could not
                    be delivered to one or more recipients. Its headers are attached
                    below.

                    For further assistance, please send mail to postmaster.

                    If you do so, please include this problem report.
                    """;
            case DELAY -> """
                    ####################################################################
                    # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
                    ####################################################################

                    Your message could not be delivered to one or more recipients yet.
                    The mail system will keep trying, and will tell you if it gives up.

                    For further assistance, please send mail to postmaster.

                    If you do so, please include this problem report.
                    """;
            case SUCCESS -> """
                    Your message was successfully delivered to the destination(s)
                    listed below. If the message was delivered to mailbox you will
                    receive no further notifications. Otherwise you may still receive
                    notifications of mail delivery errors from other systems.
                    """;
        });
        out.append('\n').append(SIGNATURE).append('\n');
        for (RecipientReport r : reports) {
            out.append('\n').append(wrap(recipientLine(r))).append('\n');
        }
        return out.toString().replace("\n", "\r\n");
    }

    private static String recipientLine(RecipientReport r) {
        String who = "<" + FieldText.oneLine(r.recipient().address()) + ">: ";
        String said = DeliveryStatus.diagnosticText(r);
        String remote = FieldText.oneLine(r.remoteMta());
        if (said != null && remote != null && !remote.isEmpty()) {
            return who + "host " + remote + " said: " + said;
        }
        if (said != null) {
            return who + said;
        }
        return who + switch (r.action()) {
            case FAILED -> "delivery failed, status " + r.status();
            case DELAYED -> "delivery delayed, status " + r.status();
            default -> r.action().fieldValue() + ", status " + r.status();
        };
    }

    /** Breaks at spaces before the width; continuation lines are indented, as Postfix does. */
    static String wrap(String line) {
        StringBuilder out = new StringBuilder();
        String indent = "";
        String rest = line;
        while (indent.length() + rest.length() > WIDTH) {
            int cut = rest.lastIndexOf(' ', WIDTH - indent.length());
            if (cut <= 0) {
                cut = rest.indexOf(' ');
                if (cut < 0) {
                    break;
                }
            }
            out.append(indent).append(rest, 0, cut).append('\n');
            rest = rest.substring(cut + 1).stripLeading();
            indent = "    ";
        }
        return out.append(indent).append(rest).toString();
    }
}
