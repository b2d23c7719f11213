package net.mailrelay.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The queue command's answers as an operator reads them: the summary laid out like qshape (one row per
 * destination, one column per age bucket), a message like {@code postqueue -p} (queue id, size,
 * arrival, sender, then each recipient under the reason it is still waiting).
 */
final class QueueTables {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'", Locale.ROOT)
            .withZone(ZoneOffset.UTC);
    private static final String INDENT = " ".repeat(52);

    private QueueTables() {
    }

    static String time(long millis) {
        return TIME.format(Instant.ofEpochMilli(millis));
    }

    /** 75s as 1m15s, 7300s as 2h01m: short enough for a column. */
    static String age(long seconds) {
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return seconds / 60 + "m" + String.format(Locale.ROOT, "%02ds", seconds % 60);
        }
        if (seconds < 86400) {
            return seconds / 3600 + "h" + String.format(Locale.ROOT, "%02dm", seconds % 3600 / 60);
        }
        return seconds / 86400 + "d" + String.format(Locale.ROOT, "%02dh", seconds % 86400 / 3600);
    }

    static String summary(JsonNode a) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%-28s %-28s %8s  %s%n", "TOPIC", "GROUP", "LAG", "OLDEST"));
        for (JsonNode t : a.path("topics")) {
            String oldest = t.path("oldestAgeSeconds").isNull() || t.path("oldestAgeSeconds").isMissingNode() ? "-"
                    : age(t.path("oldestAgeSeconds").asLong()) + " (" + t.path("oldestQueueId").asText() + ")";
            out.append(String.format(Locale.ROOT, "%-28s %-28s %8d  %s%n", t.path("topic").asText(), t.path("group").asText(),
                    t.path("lag").asLong(), oldest));
        }
        for (JsonNode t : a.path("topics")) {
            if (t.path("destinations").size() > 0) {
                out.append('\n').append(t.path("topic").asText())
                        .append(": recipients by destination and message age (minutes)\n");
                shape(out, a.path("bucketMinutes"), t);
            }
        }
        out.append('\n').append(a.path("truncated").asBoolean()
                ? "counts cut short after " + a.path("scanned").asLong() + " records (--limit to read more)\n"
                : a.path("scanned").asLong() + " waiting records read\n");
        return out.toString();
    }

    /** qshape's table: T for the total, then one column per bucket, the last one open-ended. */
    private static void shape(StringBuilder out, JsonNode buckets, JsonNode topic) {
        int width = 30;
        out.append(String.format(Locale.ROOT, "%" + width + "s %6s", "", "T"));
        buckets.forEach(b -> out.append(String.format(Locale.ROOT, " %5s", b.asText())));
        out.append(String.format(Locale.ROOT, " %5s%n", buckets.get(buckets.size() - 1).asText() + "+"));
        long[] total = new long[buckets.size() + 1];
        topic.path("destinations").forEach(d -> {
            for (int i = 0; i < total.length; i++) {
                total[i] += d.path("buckets").path(i).asLong();
            }
        });
        row(out, width, "TOTAL", topic.path("recipients").asLong(), total);
        topic.path("destinations").forEach(d -> {
            long[] b = new long[total.length];
            for (int i = 0; i < b.length; i++) {
                b[i] = d.path("buckets").path(i).asLong();
            }
            row(out, width, d.path("destination").asText(), d.path("recipients").asLong(), b);
        });
    }

    private static void row(StringBuilder out, int width, String name, long total, long[] buckets) {
        out.append(String.format(Locale.ROOT, "%" + width + "s %6d", name, total));
        for (long b : buckets) {
            out.append(String.format(Locale.ROOT, " %5d", b));
        }
        out.append('\n');
    }

    static String message(JsonNode m) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%-20s %9s %-20s  %s%n", "-Queue ID-", "--Size--", "----Arrival Time----",
                "-Sender/Recipient-------"));
        String sender = m.path("sender").isNull() ? "(original record not found)"
                : m.path("sender").asText().isEmpty() ? "MAILER-DAEMON" : m.path("sender").asText();
        String size = m.path("size").isNull() ? "?" : m.path("size").asText();
        out.append(String.format(Locale.ROOT, "%-20s %9s %-20s  %s%n", m.path("queueId").asText(), size,
                time(m.path("arrivedAtMillis").asLong()), sender));
        for (JsonNode r : m.path("recipients")) {
            String outcome = r.path("outcome").asText();
            if (!r.path("reply").isNull() && !r.path("reply").isMissingNode()) {
                out.append(INDENT).append('(').append(r.path("reply").asText()).append(")\n");
            }
            out.append(INDENT).append(r.path("recipient").asText()).append("  ").append(outcome);
            if (r.path("attempt").asInt() > 0) {
                out.append(" attempt ").append(r.path("attempt").asInt()).append(" at ").append(time(r.path("atMillis").asLong()));
            }
            if (!r.path("remoteHost").isNull() && !r.path("remoteHost").isMissingNode()) {
                out.append(" via ").append(r.path("remoteHost").asText());
            }
            out.append('\n');
        }
        out.append("\nstate: ").append(m.path("state").asText()).append(", attempts: ").append(m.path("attempts").asInt());
        if (!m.path("pendingOrder").isNull() && !m.path("pendingOrder").isMissingNode()) {
            out.append(", pending order: ").append(m.path("pendingOrder").asText());
        }
        if (m.path("truncated").asBoolean()) {
            out.append(" (events cut short: the history is longer than one scan reads)");
        }
        return out.append('\n').toString();
    }

    static String holds(JsonNode a) {
        if (a.path("holds").isEmpty()) {
            return "no destination is on hold\n";
        }
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%-40s %s%n", "DESTINATION", "ON HOLD SINCE"));
        a.path("holds").forEach(h -> out.append(String.format(Locale.ROOT, "%-40s %s%n", h.path("destination").asText(),
                time(h.path("sinceMillis").asLong()))));
        return out.toString();
    }

    /** The answer to fail or delete. */
    static String ordered(JsonNode a) {
        StringBuilder rcpts = new StringBuilder();
        a.path("retryRequested").forEach(d -> rcpts.append(rcpts.length() == 0 ? "" : ", ").append(d.asText()));
        return a.path("queueId").asText() + ": " + (a.path("order").asText().equals("FAIL") ? "failure" : "deletion")
                + " requested; retrying " + rcpts + " now so that a worker carries it out\n";
    }
}
