package net.mailrelay.deploy.faults;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.mailrelay.testing.FakeMx;

/**
 * The ledger of one scenario against what the sinks received: every recipient of every message that
 * got a {@code 250} must have been delivered to the MX or bounced back to its sender in a DSN.
 *
 * <ul>
 *   <li>lost: a ledger recipient neither delivered nor bounced;</li>
 *   <li>duplicates: deliveries (or DSNs) of a ledger recipient beyond its first outcome;</li>
 *   <li>wrong outcome: an address the MX accepts that was bounced, or one it refuses that was delivered;</li>
 *   <li>unledgered: arrivals of this scenario's messages under a queue id the client never saw in a
 *       {@code 250}: accepted by an edge that died (or was cut off) before its reply got out, so the
 *       client sent the message again. Not a loss and not the relay's duplicate: Postfix does the same
 *       when a connection breaks after the queue file is written. With every edge alive it is an edge
 *       that answered 451 for a record Kafka had appended: a produce request whose answer never came
 *       (its broker froze or died) does not say whether the write happened. The queue ids are noted, so
 *       that the edges' logs tell which.</li>
 * </ul>
 */
final class Reconciliation {

    private static final Pattern EDGE_ID = Pattern.compile("\\(mail-relay\\) with \\S+ id ([0-9A-Za-z]+)");
    private static final Pattern DSN_ID = Pattern.compile("(?im)^X-Mail-Relay-Queue-ID:\\s*(\\S+)");
    private static final Pattern FINAL_RCPT = Pattern.compile("(?im)^Final-Recipient:\\s*rfc822;\\s*([^\\s;]+)");
    private static final Pattern ACTION = Pattern.compile("(?im)^Action:\\s*(\\S+)");

    final int messages;
    final int recipients;
    int delivered;
    int bounced;
    final List<String> lost = new ArrayList<>();
    int duplicates;
    final List<String> duplicated = new ArrayList<>();
    final List<String> wrongOutcome = new ArrayList<>();
    int unledgered;
    /** The queue ids of the first unledgered arrivals, to look up in the edges' logs. */
    final List<String> unledgeredIds = new ArrayList<>();

    private Reconciliation(int messages, int recipients) {
        this.messages = messages;
        this.recipients = recipients;
    }

    static Reconciliation of(String scenario, Map<String, LoadDriver.Accepted> ledger, List<FakeMx.Delivery> atMx,
            List<FakeMx.Delivery> atReturns) {
        Map<String, Integer> deliveries = new HashMap<>();
        Map<String, Integer> bounces = new HashMap<>();
        int unledgered = 0;
        List<String> unledgeredIds = new ArrayList<>();
        String marker = "<" + scenario + "-";
        for (FakeMx.Delivery d : atMx) {
            String text = d.text();
            Matcher id = EDGE_ID.matcher(text);
            if (!text.contains(marker) || !id.find()) {
                continue; // another scenario's message
            }
            for (String r : d.recipients()) {
                if (ledger.containsKey(id.group(1))) {
                    deliveries.merge(key(id.group(1), r), 1, Integer::sum);
                } else {
                    unledgered++;
                    unledgeredIds.add(id.group(1));
                }
            }
        }
        for (FakeMx.Delivery d : atReturns) {
            String text = d.text();
            Matcher id = DSN_ID.matcher(text);
            if (!text.contains(marker) || !id.find()) {
                continue;
            }
            for (String[] rcpt : failedRecipients(text)) {
                if (ledger.containsKey(id.group(1))) {
                    bounces.merge(key(id.group(1), rcpt[0]), 1, Integer::sum);
                } else {
                    unledgered++;
                    unledgeredIds.add(id.group(1));
                }
            }
        }
        int recipients = ledger.values().stream().mapToInt(a -> a.recipients().size()).sum();
        Reconciliation r = new Reconciliation(ledger.size(), recipients);
        r.unledgered = unledgered;
        r.unledgeredIds.addAll(unledgeredIds.stream().distinct().limit(20).toList());
        ledger.forEach((queueId, accepted) -> {
            for (String rcpt : accepted.recipients()) {
                String k = key(queueId, rcpt);
                int d = deliveries.getOrDefault(k, 0);
                int b = bounces.getOrDefault(k, 0);
                r.delivered += d > 0 ? 1 : 0;
                r.bounced += d == 0 && b > 0 ? 1 : 0;
                if (d + b == 0) {
                    r.lost.add(k);
                } else if (d + b > 1) {
                    r.duplicates += d + b - 1;
                    r.duplicated.add(k + " x" + (d + b));
                }
                boolean refusedByMx = rcpt.startsWith("permfail-");
                if (refusedByMx ? d > 0 : b > 0) {
                    r.wrongOutcome.add(k + (refusedByMx ? " delivered" : " bounced"));
                }
            }
        });
        return r;
    }

    /** The recipients a DSN reports as failed ({@code Action: failed}), from its per-recipient blocks. */
    private static List<String[]> failedRecipients(String dsn) {
        List<String[]> out = new ArrayList<>();
        Matcher m = FINAL_RCPT.matcher(dsn);
        while (m.find()) {
            Matcher a = ACTION.matcher(dsn);
            if (a.find(m.end()) && a.group(1).equalsIgnoreCase("failed")) {
                out.add(new String[] {m.group(1).toLowerCase(Locale.ROOT)});
            }
        }
        return out;
    }

    private static String key(String queueId, String recipient) {
        return queueId + " " + recipient.toLowerCase(Locale.ROOT);
    }

    /** Recipients with an outcome (delivered or bounced). */
    int settled() {
        return recipients - lost.size();
    }

    String summary() {
        return String.format(Locale.ROOT, "%d messages accepted (%d recipients): %d delivered, %d bounced, lost %d, "
                        + "duplicates %d, wrong outcome %d, unledgered arrivals %d", messages, recipients, delivered, bounced,
                lost.size(), duplicates, wrongOutcome.size(), unledgered);
    }
}
