package net.mailrelay.edge.listener;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import net.mailrelay.edge.session.BareLineFeeds;

/** One listening SMTP socket and the pipeline every accepted connection gets. */
public final class SmtpListener implements AutoCloseable {

    /**
     * RFC 5321 section 4.5.3.1.4 allows 512 octets; extensions lengthen MAIL and RCPT, and an AUTH
     * initial response may take 12288 (RFC 4954 section 4), so frames up to this size reach the session,
     * which applies the limit for each command.
     */
    static final int MAX_FRAMED_LINE = 12288 + 512;

    private final Channel channel;
    private final String name;

    public SmtpListener(EventLoopGroup acceptors, EventLoopGroup workers, InetSocketAddress address,
            ListenerContext context) throws InterruptedException {
        this.name = context.settings().listener().name();
        boolean normalize = context.settings().bareLineFeeds() == BareLineFeeds.NORMALIZE;
        boolean implicitTls = context.settings().listener().implicitTls();
        ServerBootstrap b = new ServerBootstrap()
                .group(acceptors, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SmtpFrameDecoder decoder = new SmtpFrameDecoder(MAX_FRAMED_LINE, normalize);
                        if (implicitTls) {
                            ch.pipeline().addLast("tls", context.tls().newHandler(ch.alloc()));
                        }
                        ch.pipeline()
                                .addLast("idle", new IdleStateHandler(0, 0, context.idleTimeout().toMillis(), TimeUnit.MILLISECONDS))
                                .addLast("framing", decoder)
                                .addLast("session", new SmtpConnectionHandler(context, decoder));
                    }
                });
        this.channel = b.bind(address).sync().channel();
    }

    public String name() {
        return name;
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }
}
