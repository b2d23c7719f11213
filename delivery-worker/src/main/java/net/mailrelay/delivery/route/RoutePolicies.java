package net.mailrelay.delivery.route;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import net.mailrelay.delivery.smtp.Credentials;
import net.mailrelay.delivery.smtp.TlsPolicy;

/**
 * Per-destination client settings (Postfix smtp_tls_policy_maps and smtp_sasl_password_maps): the TLS
 * policy for a recipient domain, and the credentials for a next hop.
 */
public final class RoutePolicies {

    public static final RoutePolicies DEFAULT = new RoutePolicies(TlsPolicy.OPPORTUNISTIC, Map.of(), Map.of());

    private final TlsPolicy defaultTls;
    private final Map<String, TlsPolicy> tlsByDomain;
    private final Map<NextHop, Credentials> credentials;

    public RoutePolicies(TlsPolicy defaultTls, Map<String, TlsPolicy> tlsByDomain, Map<NextHop, Credentials> credentials) {
        this.defaultTls = defaultTls;
        Map<String, TlsPolicy> lower = new HashMap<>();
        tlsByDomain.forEach((d, p) -> lower.put(d.toLowerCase(Locale.ROOT), p));
        this.tlsByDomain = Map.copyOf(lower);
        this.credentials = Map.copyOf(credentials);
    }

    /** Parses {@code DOMAIN=POLICY} entries. */
    public static Map<String, TlsPolicy> parseTls(List<String> entries) {
        Map<String, TlsPolicy> m = new HashMap<>();
        for (String e : entries) {
            int eq = e.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("TLS policy entry must be DOMAIN=POLICY, not '" + e + "'");
            }
            m.put(e.substring(0, eq).trim(), TlsPolicy.parse(e.substring(eq + 1)));
        }
        return m;
    }

    /**
     * Reads a credentials file: one {@code NEXTHOP USER PASSWORD} per line, the next hop written as in a
     * route ({@code [smtp.example.com]:587}); {@code #} starts a comment. The file should be readable by
     * the relay only.
     */
    public static Map<NextHop, Credentials> readCredentials(Path file) throws IOException {
        Map<NextHop, Credentials> m = new HashMap<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            String[] f = t.split("\\s+", 3);
            if (f.length != 3) {
                throw new IOException(file + ":" + n + ": expected NEXTHOP USER PASSWORD");
            }
            m.put(NextHop.parse(f[0]), new Credentials(f[1], f[2]));
        }
        return m;
    }

    public TlsPolicy tls(String domain) {
        return tlsByDomain.getOrDefault(domain.toLowerCase(Locale.ROOT), defaultTls);
    }

    /** Credentials for this next hop, or null. */
    public Credentials credentials(NextHop hop) {
        return hop == null ? null : credentials.get(hop);
    }
}
