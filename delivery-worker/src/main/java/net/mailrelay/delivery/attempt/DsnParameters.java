package net.mailrelay.delivery.attempt;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.envelope.Recipient;

/**
 * The DSN parameters a relay passes on to a next hop that offers DSN (RFC 3461 section 5.2): RET and
 * ENVID on MAIL, NOTIFY and ORCPT on RCPT. A recipient without ORCPT gets one, so that reports from
 * further on still name the address the sender used.
 */
final class DsnParameters {

    private DsnParameters() {
    }

    static String mail(Envelope env) {
        StringBuilder b = new StringBuilder();
        if (env.dsnReturn() != null) {
            b.append("RET=").append(env.dsnReturn());
        }
        if (env.envelopeId() != null) {
            b.append(b.length() > 0 ? " " : "").append("ENVID=").append(env.envelopeId());
        }
        return b.toString();
    }

    static Map<String, String> recipients(Envelope env, List<String> batch) {
        Map<String, String> out = new HashMap<>();
        for (Recipient r : env.recipients()) {
            if (!batch.contains(r.address())) {
                continue;
            }
            StringBuilder b = new StringBuilder();
            if (!r.notifyOn().isEmpty()) {
                b.append("NOTIFY=").append(r.notifyOn().stream().map(Enum::name).sorted().collect(Collectors.joining(",")));
            }
            String orcpt = r.originalRecipient() != null ? r.originalRecipient()
                    : r.address().chars().allMatch(c -> c < 0x80) ? "rfc822;" + xtext(r.address()) : null;
            if (orcpt != null) {
                b.append(b.length() > 0 ? " " : "").append("ORCPT=").append(orcpt);
            }
            out.put(r.address(), b.toString());
        }
        return out;
    }

    /** RFC 3461 section 4: "+", "=" and characters outside printable ASCII as "+XX". */
    static String xtext(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c < '!' || c > '~' || c == '+' || c == '=') {
                b.append('+').append(String.format("%02X", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
