package net.mailrelay.edge.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/** An IPv4 or IPv6 network in CIDR notation, e.g. {@code 10.0.0.0/8} or {@code ::1/128}. */
public record Cidr(byte[] network, int prefixLength) {

    public Cidr {
        Objects.requireNonNull(network, "network");
        if (prefixLength < 0 || prefixLength > network.length * 8) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " out of range");
        }
        network = mask(network.clone(), prefixLength);
    }

    /** Parses {@code address/prefix}, or a bare address as a single host. */
    public static Cidr parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        String host = slash < 0 ? t : t.substring(0, slash);
        boolean literal = host.indexOf(':') >= 0
                || (host.indexOf('.') >= 0 && host.chars().allMatch(c -> Character.isDigit(c) || c == '.'));
        if (!literal || !host.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')) {
            throw new IllegalArgumentException("not an IP network: '" + text + "'");
        }
        byte[] addr;
        try {
            addr = InetAddress.getByName(host).getAddress(); // literal only: no name lookup for these characters
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP network: '" + text + "'");
        }
        int prefix;
        try {
            prefix = slash < 0 ? addr.length * 8 : Integer.parseInt(t.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad prefix length in '" + text + "'");
        }
        if (prefix < 0 || prefix > addr.length * 8) {
            throw new IllegalArgumentException("prefix length out of range in '" + text + "'");
        }
        return new Cidr(addr, prefix);
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) {
            return false;
        }
        byte[] masked = mask(a.clone(), prefixLength);
        return java.util.Arrays.equals(masked, network);
    }

    private static byte[] mask(byte[] addr, int prefix) {
        for (int i = 0; i < addr.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            addr[i] &= (byte) (0xFF << (8 - bits));
        }
        return addr;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefixLength == prefixLength && java.util.Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(network) * 31 + prefixLength;
    }

    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefixLength;
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
