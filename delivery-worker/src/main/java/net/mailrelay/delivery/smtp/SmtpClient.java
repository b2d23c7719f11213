package net.mailrelay.delivery.smtp;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Opens SMTP sessions to remote servers with Netty and its SMTP client codec. Each call runs one
 * transaction on a new connection and completes with a {@link SessionReport}; it never fails
 * exceptionally, because a failure to connect is itself a result.
 */
public final class SmtpClient implements AutoCloseable {

    /** Longest reply line accepted; RFC 5321 says 512, real servers sometimes send more. */
    private static final int MAX_REPLY_LINE = 8192;

    private final EventLoopGroup group;
    private final Timeouts timeouts;

    public SmtpClient(Timeouts timeouts) {
        this.group = new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory());
        this.timeouts = timeouts;
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }

    public CompletableFuture<SessionReport> deliver(String host, InetSocketAddress address,
            OutboundSession.Transaction tx, byte[] message, int offset, int length) {
        String peer = host + "[" + address.getAddress().getHostAddress() + "]:" + address.getPort();
        String addressText = address.getAddress().getHostAddress() + ":" + address.getPort();
        CompletableFuture<SessionReport> result = new CompletableFuture<>();
        OutboundSession session = new OutboundSession(tx, host, addressText);
        ByteBuf content = DotStuffing.stuff(message, offset, length);
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
                                .addLast(new SmtpClientHandler(session, timeouts, content, peer, result));
                    }
                });
        ChannelFuture connect = b.connect(address);
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                if (content.refCnt() > 0 && connect.channel().pipeline().get(SmtpClientHandler.class) == null) {
                    content.release();
                }
                String why = f.cause() == null ? "failed" : f.cause().getMessage();
                result.complete(SessionReport.notConnected(host, addressText, "connect to " + peer + ": " + why));
            }
        });
        return result;
    }
}
