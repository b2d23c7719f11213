package net.mailrelay.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A TCP proxy in front of a real server that can be frozen, as a broker under SIGSTOP is: connections are
 * still accepted (the kernel would), bytes are read, but nothing is passed on in either direction until
 * {@link #thaw()}, when what was held goes on and the connections carry on as if nothing had happened.
 *
 * <p>Put in front of a Kafka broker as a client's {@code bootstrap.servers}, it only carries bootstrap
 * traffic: the metadata the broker returns names the broker's own address, which the client uses from
 * then on. So a proxy frozen before the client's first metadata is a Kafka that cannot be found, where
 * every send waits for metadata and no record can be on its way to a broker.
 */
public final class FreezableProxy implements AutoCloseable {

    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final List<Socket> sockets = new ArrayList<>();
    private final Object gate = new Object();
    private boolean frozen;
    private volatile boolean closed;

    /** Proxies to {@code host:port}, the first entry of a bootstrap list if given one. */
    public FreezableProxy(String hostPort) {
        String first = hostPort.split(",")[0].trim();
        int colon = first.lastIndexOf(':');
        this.targetHost = first.substring(0, colon);
        this.targetPort = Integer.parseInt(first.substring(colon + 1));
        try {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread acceptor = new Thread(this::accept, "freezable-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** {@code 127.0.0.1:port}, for a bootstrap list. */
    public String address() {
        return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
    }

    public FreezableProxy freeze() {
        synchronized (gate) {
            frozen = true;
        }
        return this;
    }

    public FreezableProxy thaw() {
        synchronized (gate) {
            frozen = false;
            gate.notifyAll();
        }
        return this;
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(targetHost, targetPort);
                synchronized (sockets) {
                    sockets.add(client);
                    sockets.add(upstream);
                }
                pump(client, upstream, "up");
                pump(upstream, client, "down");
            } catch (IOException e) {
                if (!closed) {
                    continue; // the target refused this one; the client sees its connection closed
                }
            }
        }
    }

    private void pump(Socket from, Socket to, String direction) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    awaitThawed();
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // one side went away; close both below
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "freezable-proxy-" + direction);
        t.setDaemon(true);
        t.start();
    }

    private void awaitThawed() throws InterruptedException {
        synchronized (gate) {
            while (frozen && !closed) {
                gate.wait();
            }
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        closed = true;
        thaw();
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        synchronized (sockets) {
            sockets.forEach(FreezableProxy::closeQuietly);
            sockets.clear();
        }
    }
}
