package net.mailrelay.delivery.route;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * What counts as this relay when the MX hosts of a domain are looked at, so that mail whose MX points
 * back here is not sent round in a loop (Postfix's "mail for X loops back to myself"): a server named
 * as the relay names itself ({@code hostname}), an address the relay is reached at from outside
 * ({@code delivery.own-addresses}, Postfix's proxy_interfaces: a load balancer's address, say), or one
 * of this process's own SMTP listeners (standalone, where the edge runs beside the worker).
 *
 * @param hostname the name in the edges' greeting
 * @param addresses addresses that reach this relay's edges, whatever the port
 * @param listeners this process's own SMTP listeners; a wildcard one stands for every local address
 */
public record Myself(String hostname, Set<InetAddress> addresses, Set<InetSocketAddress> listeners) {

    /** Nothing is this relay: no loop is ever found. */
    public static final Myself NOBODY = new Myself("", Set.of(), Set.of());

    public Myself {
        Objects.requireNonNull(hostname, "hostname");
        addresses = Set.copyOf(addresses);
        listeners = Set.copyOf(listeners);
    }

    /** Whether a server found for a domain is this relay. */
    boolean is(Target t) {
        String host = t.host().endsWith(".") ? t.host().substring(0, t.host().length() - 1) : t.host();
        if (!hostname.isEmpty() && host.toLowerCase(Locale.ROOT).equals(hostname.toLowerCase(Locale.ROOT))) {
            return true;
        }
        InetAddress a = t.address().getAddress();
        if (addresses.contains(a)) {
            return true;
        }
        for (InetSocketAddress l : listeners) {
            if (l.getPort() == t.address().getPort()
                    && (l.getAddress().equals(a) || l.getAddress().isAnyLocalAddress() && local(a))) {
                return true;
            }
        }
        return false;
    }

    private static boolean local(InetAddress a) {
        if (a.isLoopbackAddress() || a.isAnyLocalAddress()) {
            return true;
        }
        try {
            return NetworkInterface.getByInetAddress(a) != null;
        } catch (SocketException e) {
            return false;
        }
    }
}
