package net.mailrelay.protocol.record;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The Kafka topics the services talk through (see docs/record-format.md). An optional prefix lets
 * several relays (or several test classes) share one Kafka cluster without seeing each other's mail.
 */
public record Topics(String prefix) {

    public static final Topics DEFAULT = new Topics("");

    public Topics {
        Objects.requireNonNull(prefix, "prefix");
        if (!prefix.chars().allMatch(c -> c < 0x80 && (Character.isLetterOrDigit(c) || c == '.' || c == '_' || c == '-'))) {
            throw new IllegalArgumentException("topic prefix may hold only ASCII letters, digits, '.', '_' and '-': '" + prefix + "'");
        }
    }

    /** Accepted mail waiting for its first delivery attempt; written by the edge and the bounce service. */
    public String outbound() {
        return prefix + "mail.outbound";
    }

    /** Permanent failures and expiries for the bounce service to report. */
    public String bounce() {
        return prefix + "mail.bounce";
    }

    /** One record per delivery attempt and recipient: the log of what happened. */
    public String events() {
        return prefix + "mail.events";
    }

    /** The suppression list: a compacted topic keyed by address (see SuppressionEntry). */
    public String suppression() {
        return prefix + "mail.suppression";
    }

    /** The retry tier topic for a delay, e.g. {@code mail.retry.5m}. */
    public String retryTier(Duration delay) {
        return prefix + "mail.retry." + label(delay);
    }

    public boolean isRetryTier(String topic) {
        return topic.startsWith(prefix + "mail.retry.");
    }

    /** Every topic, for creating them at start. */
    public List<String> all(List<Duration> retryTiers) {
        List<String> names = new ArrayList<>(List.of(outbound(), bounce(), events()));
        retryTiers.forEach(t -> names.add(retryTier(t)));
        return names;
    }

    /** The shortest exact label for a tier delay: 30s, 5m, 2h. */
    public static String label(Duration delay) {
        long s = delay.getSeconds();
        if (s <= 0 || delay.getNano() != 0) {
            throw new IllegalArgumentException("retry tier must be a whole number of seconds > 0: " + delay);
        }
        if (s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }

    /** Parses {@code 30s}, {@code 5m}, {@code 2h} or {@code 1d}. */
    public static Duration parseDuration(String text) {
        String t = text.trim();
        String usage = "duration needs a whole number and a unit (s, m, h, d): '" + text + "'";
        if (t.length() < 2) {
            throw new IllegalArgumentException(usage);
        }
        long n;
        try {
            n = Long.parseLong(t.substring(0, t.length() - 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(usage);
        }
        if (n < 0) {
            throw new IllegalArgumentException("duration must not be negative: '" + text + "'");
        }
        return switch (t.charAt(t.length() - 1)) {
            case 's' -> Duration.ofSeconds(n);
            case 'm' -> Duration.ofMinutes(n);
            case 'h' -> Duration.ofHours(n);
            case 'd' -> Duration.ofDays(n);
            default -> throw new IllegalArgumentException(usage);
        };
    }
}
