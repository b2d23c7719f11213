package net.mailrelay.deploy.config;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import net.mailrelay.protocol.record.Topics;

/** Value parsers for configuration keys; each throws IllegalArgumentException saying what is wrong. */
final class Parsers {

    private Parsers() {
    }

    static int port(String s) {
        int p = integer(s);
        if (p < 0 || p > 65535) {
            throw new IllegalArgumentException("port must be 0-65535");
        }
        return p;
    }

    static int positive(String s) {
        int n = integer(s);
        if (n < 1) {
            throw new IllegalArgumentException("must be at least 1");
        }
        return n;
    }

    static int nonNegative(String s) {
        int n = integer(s);
        if (n < 0) {
            throw new IllegalArgumentException("must be 0 or more");
        }
        return n;
    }

    static int integer(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a whole number");
        }
    }

    static Duration duration(String s) {
        // "0" needs no unit: it is what "never" or "off" is written as (dsn.delay-warning = 0).
        return s.trim().equals("0") ? Duration.ZERO : Topics.parseDuration(s);
    }

    static Duration positiveDuration(String s) {
        Duration d = duration(s);
        if (d.isZero()) {
            throw new IllegalArgumentException("must be longer than 0");
        }
        return d;
    }

    /** A byte count, optionally with a binary suffix: {@code 26214400}, {@code 25MiB}, {@code 512KiB}. */
    static long size(String s) {
        String t = s.replace(" ", "");
        long unit = 1;
        String u = t.toLowerCase(Locale.ROOT);
        if (u.endsWith("kib")) {
            unit = 1L << 10;
        } else if (u.endsWith("mib")) {
            unit = 1L << 20;
        } else if (u.endsWith("gib")) {
            unit = 1L << 30;
        }
        String number = unit == 1 ? t : t.substring(0, t.length() - 3);
        long n;
        try {
            n = Long.parseLong(number);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size (a number of bytes, or with KiB, MiB, GiB)");
        }
        if (n < 1) {
            throw new IllegalArgumentException("must be at least 1 byte");
        }
        return Math.multiplyExact(n, unit);
    }

    static boolean bool(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on" -> true;
            case "false", "no", "off" -> false;
            default -> throw new IllegalArgumentException("must be true or false");
        };
    }

    /** One of the given words, compared without regard to case; returned in lower case. */
    static String oneOf(String s, String... words) {
        for (String w : words) {
            if (w.equalsIgnoreCase(s)) {
                return w;
            }
        }
        throw new IllegalArgumentException("must be one of " + String.join(", ", words));
    }

    static java.util.Optional<java.nio.file.Path> optionalPath(String s) {
        return s.isBlank() ? java.util.Optional.empty() : java.util.Optional.of(java.nio.file.Path.of(s));
    }

    /** {@code DOMAIN=N[,...]} with positive numbers. */
    static java.util.Map<String, Integer> perDomain(String s, boolean positive) {
        java.util.Map<String, Integer> m = new java.util.HashMap<>();
        for (String e : list(s)) {
            int eq = e.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("entries must be DOMAIN=N, not '" + e + "'");
            }
            int n = positive ? positive(e.substring(eq + 1).trim()) : integer(e.substring(eq + 1).trim());
            m.put(e.substring(0, eq).trim(), n);
        }
        return m;
    }

    /** A comma-separated list; empty text is an empty list. */
    /** USER=DOMAIN[|DOMAIN...], comma-separated. */
    static java.util.Map<String, java.util.Set<String>> userDomains(String s) {
        java.util.Map<String, java.util.Set<String>> m = new java.util.HashMap<>();
        for (String e : list(s)) {
            int eq = e.indexOf('=');
            if (eq <= 0 || eq == e.length() - 1) {
                throw new IllegalArgumentException("entries must be USER=DOMAIN[|DOMAIN...], not '" + e + "'");
            }
            java.util.Set<String> domains = new java.util.HashSet<>();
            for (String d : e.substring(eq + 1).split("\\|")) {
                if (!d.trim().isEmpty()) {
                    domains.add(d.trim().toLowerCase(java.util.Locale.ROOT));
                }
            }
            if (m.put(e.substring(0, eq).trim(), java.util.Set.copyOf(domains)) != null) {
                throw new IllegalArgumentException("user '" + e.substring(0, eq).trim() + "' is listed twice");
            }
        }
        return m;
    }

    static List<String> list(String s) {
        return Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList();
    }

    /** IP address literals, IP[,IP]; a name is refused, as it would be looked up in DNS at start. */
    static List<java.net.InetAddress> addresses(String s) {
        List<java.net.InetAddress> out = new java.util.ArrayList<>();
        for (String a : list(s)) {
            String ip = a.startsWith("[") && a.endsWith("]") ? a.substring(1, a.length() - 1) : a;
            if (ip.isEmpty() || !ip.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')) {
                throw new IllegalArgumentException("'" + a + "' is not an IP address");
            }
            try {
                out.add(java.net.InetAddress.getByName(ip));
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException("'" + a + "' is not an IP address");
            }
        }
        return out;
    }

    static List<Duration> durations(String s) {
        List<Duration> d = list(s).stream().map(Parsers::positiveDuration).toList();
        if (d.isEmpty()) {
            throw new IllegalArgumentException("at least one duration is needed");
        }
        return d;
    }
}
