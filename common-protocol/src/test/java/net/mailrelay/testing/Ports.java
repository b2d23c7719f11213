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
 * port that way). A port is handed out once per JVM: until its server binds it, it looks free to the
 * next caller too (a cluster of processes takes its ports before it starts any of them).
 */
public final class Ports {

    private static final int LOW = 20_000;
    private static final int HIGH = 32_000;
    /** Handed out already: a port is free until its server binds it, so a second caller could get it too. */
    private static final java.util.Set<Integer> GIVEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private Ports() {
    }

    public static int free() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOW, HIGH);
            if (!GIVEN.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            } catch (IOException e) {
                // taken: try another
            }
        }
        throw new IllegalStateException("no free port between " + LOW + " and " + HIGH);
    }
}
