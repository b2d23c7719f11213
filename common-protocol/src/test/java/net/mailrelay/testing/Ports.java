package net.mailrelay.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Free loopback ports, for servers that must be told their port before they start (separate processes).
 *
 * <p>They are taken below the kernel's ephemeral range (32768-60999 on Linux), not from it: a port the
 * kernel hands out for "any free port" is also what it hands out as the local end of an outgoing
 * connection, and in a cluster of processes that connect to each other one of those connections took
 * a port chosen for a member not yet started (the fault suite's bounce service failed to bind its HTTP
 * port that way).
 */
public final class Ports {

    private static final int LOW = 20_000;
    private static final int HIGH = 32_000;

    private Ports() {
    }

    public static int free() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOW, HIGH);
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            } catch (IOException e) {
                // taken: try another
            }
        }
        throw new IllegalStateException("no free port between " + LOW + " and " + HIGH);
    }
}
