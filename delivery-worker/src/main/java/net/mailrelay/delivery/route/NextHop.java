package net.mailrelay.delivery.route;

import java.util.Locale;
import java.util.Objects;

/**
 * Where mail for a domain goes when the transport table says so (Postfix transport(5) nexthop):
 * {@code [host]:port} or {@code host:port} connect to that host directly; a bare {@code host} is itself
 * looked up by MX, like Postfix's {@code relay:host}.
 */
public record NextHop(String host, int port, boolean mxLookup) {

    public static final int SMTP_PORT = 25;

    public NextHop {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("next hop needs a host");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("next hop port out of range: " + port);
        }
    }

    /** Parses {@code [host]:port}, {@code [host]}, {@code host:port} or {@code host}; IPv6 must be bracketed. */
    public static NextHop parse(String text) {
        String t = text.trim();
        if (t.startsWith("[")) {
            int close = t.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("missing ']' in next hop '" + text + "'");
            }
            String host = t.substring(1, close);
            String rest = t.substring(close + 1);
            if (rest.isEmpty()) {
                return new NextHop(host, SMTP_PORT, false);
            }
            if (!rest.startsWith(":")) {
                throw new IllegalArgumentException("expected ':port' after ']' in next hop '" + text + "'");
            }
            return new NextHop(host, port(rest.substring(1), text), false);
        }
        int colon = t.lastIndexOf(':');
        if (colon < 0) {
            return new NextHop(t.toLowerCase(Locale.ROOT), SMTP_PORT, true);
        }
        if (t.indexOf(':') != colon) {
            throw new IllegalArgumentException("IPv6 next hop must be bracketed: '" + text + "'");
        }
        // An explicit port names one server: no MX lookup (the form --route DOMAIN=HOST:PORT documents).
        return new NextHop(t.substring(0, colon).toLowerCase(Locale.ROOT), port(t.substring(colon + 1), text), false);
    }

    private static int port(String s, String whole) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in next hop '" + whole + "'");
        }
    }

    @Override
    public String toString() {
        return (mxLookup ? host : "[" + host + "]") + ":" + port;
    }
}
