package net.mailrelay.delivery.route;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Static routes that override MX lookup, in the spirit of Postfix's transport(5): an exact recipient
 * domain, or {@code *} for every domain without its own entry (a smarthost).
 */
public final class TransportTable {

    public static final TransportTable EMPTY = new TransportTable(Map.of());

    private final Map<String, NextHop> routes;

    private TransportTable(Map<String, NextHop> routes) {
        this.routes = Map.copyOf(routes);
    }

    /** Parses entries of the form {@code DOMAIN=NEXTHOP}; see {@link NextHop#parse}. */
    public static TransportTable parse(List<String> entries) {
        Map<String, NextHop> routes = new HashMap<>();
        for (String entry : entries) {
            int eq = entry.indexOf('=');
            if (eq <= 0 || eq == entry.length() - 1) {
                throw new IllegalArgumentException("route must be DOMAIN=HOST:PORT, not '" + entry + "'");
            }
            String domain = entry.substring(0, eq).trim().toLowerCase(Locale.ROOT);
            if (routes.put(domain, NextHop.parse(entry.substring(eq + 1))) != null) {
                throw new IllegalArgumentException("route for '" + domain + "' given twice");
            }
        }
        return new TransportTable(routes);
    }

    public Optional<NextHop> lookup(String domain) {
        NextHop hop = routes.get(domain.toLowerCase(Locale.ROOT));
        return Optional.ofNullable(hop != null ? hop : routes.get("*"));
    }

    @Override
    public String toString() {
        return routes.toString();
    }
}
