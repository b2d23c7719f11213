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
    private final ConnectionPool pool;
    private final ScheduledFuture<?> reaper;

    public SmtpClient(Timeouts timeouts, ClientTls tls, Reuse reuse) {
        this.group = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
        this.timeouts = timeouts;
        this.tls = tls;
        this.pool = new ConnectionPool(reuse.maxTransactions(), reuse.maxIdle(), reuse.maxAge());
        this.reaper = group.scheduleAtFixedRate(pool::reap, 1, 1, TimeUnit.SECONDS);
    }

    /**
     * Runs one transaction with the server at {@code address} (known as {@code host}), on an idle
     * connection set up the same way if there is one, else on a new one.
     */
    public CompletableFuture<SessionReport> deliver(String host, InetSocketAddress address, ConnectionSpec spec,
            ClientSession.Transaction tx, byte[] message, int offset, int length) {
        ConnectionPool.Key key = new ConnectionPool.Key(host, address, spec);
        SmtpConnection idle = pool.take(key);
        CompletableFuture<SmtpConnection> connection;
        CompletableFuture<SessionReport> failedSetup = new CompletableFuture<>();
        if (idle != null) {
            connection = CompletableFuture.completedFuture(idle);
        } else {
            connection = open(host, address, spec, failedSetup);
        }
        CompletableFuture<SessionReport> first = connection.thenCompose(c -> c == null ? failedSetup
                : c.send(tx, DotStuffing.stuff(message, offset, length)).whenComplete((report, e) -> pool.give(key, c)));
        if (idle == null) {
            return first;
        }
        // A cached connection can die while idle; that says nothing about the server, so a failure
        // before MAIL (at RSET) is retried once on a fresh connection, as Postfix does.
        return first.thenCompose(report -> report.endedAt() != Stage.RSET ? CompletableFuture.completedFuture(report)
                : deliverFresh(key, host, address, spec, tx, message, offset, length));
    }

    private CompletableFuture<SessionReport> deliverFresh(ConnectionPool.Key key, String host, InetSocketAddress address,
            ConnectionSpec spec, ClientSession.Transaction tx, byte[] message, int offset, int length) {
        CompletableFuture<SessionReport> failedSetup = new CompletableFuture<>();
        return open(host, address, spec, failedSetup).thenCompose(c -> c == null ? failedSetup
                : c.send(tx, DotStuffing.stuff(message, offset, length)).whenComplete((report, e) -> pool.give(key, c)));
    }

    /** Completes with a set-up connection, or with null after completing {@code failed} with the reason. */
    private CompletableFuture<SmtpConnection> open(String host, InetSocketAddress address, ConnectionSpec spec,
            CompletableFuture<SessionReport> failed) {
        String peer = host + "[" + address.getAddress().getHostAddress() + "]:" + address.getPort();
        String addressText = address.getAddress().getHostAddress() + ":" + address.getPort();
        SmtpConnection c = new SmtpConnection(new ClientSession(spec, host, addressText), spec, tls, timeouts, host, peer,
                address.getPort());
        CompletableFuture<SmtpConnection> ready = new CompletableFuture<>();
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
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                String why = f.cause() == null ? "failed" : f.cause().getMessage();
                failed.complete(SessionReport.notConnected(host, addressText, "connect to " + peer + ": " + why));
                ready.complete(null);
            }
        });
        c.setup.thenAccept(problem -> {
            if (problem == null) {
                ready.complete(c);
            } else {
                failed.complete(problem);
                ready.complete(null);
            }
        });
        return ready;
    }

    @Override
    public void close() {
        reaper.cancel(false);
        pool.closeAll();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
