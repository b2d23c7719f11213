package net.mailrelay.delivery.smtp;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.smtp.SmtpRequestEncoder;
import io.netty.handler.codec.smtp.SmtpResponseDecoder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Delivers transactions to remote servers with Netty and its SMTP client codec, reusing set-up
 * connections where it can. Each call completes with a {@link SessionReport} and never fails
 * exceptionally: a failure to connect is itself a result.
 */
public final class SmtpClient implements AutoCloseable {

    /** Longest reply line accepted; RFC 5321 says 512, real servers sometimes send more. */
    private static final int MAX_REPLY_LINE = 8192;

    /** Connection reuse settings (Postfix smtp_connection_cache_*, smtp_connection_reuse_*). */
    public record Reuse(int maxTransactions, Duration maxIdle, Duration maxAge) {
        public static final Reuse DEFAULT = new Reuse(100, Duration.ofSeconds(5), Duration.ofMinutes(5));
    }

    private final EventLoopGroup group;
    private final Timeouts timeouts;
    private final ClientTls tls;
    private final ConnectionGate gate;
    private final Duration slotWait;
    private final ConnectionPool pool;
    private final ScheduledFuture<?> reaper;
    private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();

    public SmtpClient(Timeouts timeouts, ClientTls tls, Reuse reuse) {
        this(timeouts, tls, reuse, ConnectionGate.NONE, Duration.ZERO);
    }

    /**
     * @param gate cluster-wide connection slots per destination
     * @param slotWait how long a delivery waits for a slot, or for a pooled connection to come free
     */
    public SmtpClient(Timeouts timeouts, ClientTls tls, Reuse reuse, ConnectionGate gate, Duration slotWait) {
        this.group = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
        this.timeouts = timeouts;
        this.tls = tls;
        this.gate = gate;
        this.slotWait = slotWait;
        this.pool = new ConnectionPool(reuse.maxTransactions(), reuse.maxIdle(), reuse.maxAge());
        this.reaper = group.scheduleAtFixedRate(pool::reap, 1, 1, TimeUnit.SECONDS);
    }

    /**
     * Runs one transaction with the server at {@code address} (known as {@code host}), on an idle
     * connection set up the same way if there is one, else on a new one if the {@code destination}
     * (the domain or next hop whose limit applies) has a free connection slot. Blocks the calling
     * delivery thread for at most the slot wait; never call it from an event loop.
     */
    public CompletableFuture<SessionReport> deliver(String destination, String host, InetSocketAddress address,
            ConnectionSpec spec, ClientSession.Transaction tx, byte[] message, int offset, int length) {
        ConnectionPool.Key key = new ConnectionPool.Key(host, address, spec);
        SmtpConnection idle = pool.take(key);
        ConnectionGate.Lease lease = null;
        if (idle == null) {
            long deadline = System.nanoTime() + slotWait.toNanos();
            while ((lease = gate.tryAcquire(destination)) == null && (idle = pool.take(key)) == null
                    && System.nanoTime() < deadline) {
                LockSupport.parkNanos(SLOT_POLL.toNanos());
            }
        }
        if (idle == null && lease == null) {
            return CompletableFuture.completedFuture(atLimit(destination, host, address));
        }
        if (idle == null) {
            return send(key, open(host, address, spec, lease), tx, message, offset, length);
        }
        CompletableFuture<SessionReport> first = send(key, CompletableFuture.completedFuture(new Opened(idle, null)), tx,
                message, offset, length);
        // A cached connection can die while idle; that says nothing about the server, so a failure
        // before MAIL (at RSET) is retried once on a fresh connection, as Postfix does.
        return first.thenCompose(report -> {
            if (report.endedAt() != Stage.RSET) {
                return CompletableFuture.completedFuture(report);
            }
            ConnectionGate.Lease fresh = gate.tryAcquire(destination);
            return fresh == null ? CompletableFuture.completedFuture(atLimit(destination, host, address))
                    : send(key, open(host, address, spec, fresh), tx, message, offset, length);
        });
    }

    private static final Duration SLOT_POLL = Duration.ofMillis(50);

    /** A connection ready for a transaction, or the report of why none could be set up. */
    record Opened(SmtpConnection connection, SessionReport failure) {
    }

    private CompletableFuture<SessionReport> send(ConnectionPool.Key key, CompletableFuture<Opened> opened,
            ClientSession.Transaction tx, byte[] message, int offset, int length) {
        return opened.thenCompose(o -> o.connection() == null ? CompletableFuture.completedFuture(o.failure())
                : o.connection().send(tx, DotStuffing.stuff(message, offset, length))
                        .whenComplete((report, e) -> pool.give(key, o.connection())));
    }

    private static SessionReport atLimit(String destination, String host, InetSocketAddress address) {
        return new SessionReport(host, address.getAddress().getHostAddress() + ":" + address.getPort(), Stage.WAIT, null,
                "destination " + destination + " is at its connection limit", null, java.util.Map.of(), null, null, false);
    }

    /** Opens and sets up a connection that holds {@code lease} until it closes. */
    CompletableFuture<Opened> open(String host, InetSocketAddress address, ConnectionSpec spec,
            ConnectionGate.Lease lease) {
        String peer = host + "[" + address.getAddress().getHostAddress() + "]:" + address.getPort();
        String addressText = address.getAddress().getHostAddress() + ":" + address.getPort();
        SmtpConnection c = new SmtpConnection(new ClientSession(spec, host, addressText), spec, tls, timeouts, host, peer,
                address.getPort());
        CompletableFuture<Opened> ready = new CompletableFuture<>();
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeouts.connect().toMillis())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast(new SmtpResponseDecoder(MAX_REPLY_LINE))
                                .addLast(new SmtpRequestEncoder())
                                .addLast(c);
                    }
                });
        ChannelFuture connect = b.connect(address);
        connect.channel().closeFuture().addListener(f -> lease.release());
        connect.addListener(f -> {
            if (f.isSuccess()) {
                open.incrementAndGet();
                connect.channel().closeFuture().addListener(closed -> open.decrementAndGet());
            } else {
                String why = f.cause() == null ? "failed" : f.cause().getMessage();
                ready.complete(new Opened(null, SessionReport.notConnected(host, addressText, "connect to " + peer + ": " + why)));
            }
        });
        c.setup.thenAccept(problem -> ready.complete(problem == null ? new Opened(c, null) : new Opened(null, problem)));
        return ready;
    }

    /** Outbound connections open now (connected, whether busy or idle in the pool). */
    public int openConnections() {
        return open.get();
    }

    @Override
    public void close() {
        reaper.cancel(false);
        pool.closeAll();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
