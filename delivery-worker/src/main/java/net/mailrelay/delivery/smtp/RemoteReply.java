package net.mailrelay.delivery.smtp;

import java.util.List;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.ReplyText;
import net.mailrelay.protocol.smtp.StatusClass;
import net.mailrelay.protocol.smtp.StatusDetail;

/**
 * A reply from a remote server, kept as sent: any three-digit code (servers use codes RFC 5321 does
 * not name) and its text lines.
 */
public record RemoteReply(int code, List<String> lines) {

    public RemoteReply {
        if (code < 200 || code > 599) {
            throw new IllegalArgumentException("reply code out of range: " + code);
        }
        lines = List.copyOf(lines);
    }

    public boolean isPositive() {
        return code < 400;
    }

    public boolean isTransient() {
        return code >= 400 && code < 500;
    }

    public boolean isPermanent() {
        return code >= 500;
    }

    /**
     * The enhanced status the server gave (RFC 2034), or one derived from the code when it gave none or
     * gave one of the wrong class, as Postfix does: x.0.0.
     */
    public EnhancedStatus status() {
        String first = lines.isEmpty() ? "" : lines.get(0);
        EnhancedStatus given = EnhancedStatus.leadingIn(first);
        int kind = code / 100;
        if (given != null && given.statusClass().digit() == kind) {
            return given;
        }
        return new EnhancedStatus(StatusClass.ofDigit(kind == 3 ? 2 : kind), StatusDetail.OTHER);
    }

    /**
     * One line, as logs and Diagnostic-Code show it: {@code 550 5.1.1 <x@y>: User unknown}; at most
     * {@link ReplyText#BUDGET} bytes, whatever the server sent (up to 64 KiB): it goes into every record
     * of the attempt's outcome.
     */
    @Override
    public String toString() {
        return ReplyText.bounded(code + " " + String.join(" ", lines).replaceAll("[\\r\\n]", " "));
    }
}
