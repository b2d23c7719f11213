package net.mailrelay.delivery.route;

import java.net.InetSocketAddress;

/** One server address to try: the host name it was found under, and where to connect. */
public record Target(String host, InetSocketAddress address) {
}
