package net.mailrelay.edge.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import net.mailrelay.edge.Publisher;
import net.mailrelay.edge.session.Replies;
import net.mailrelay.edge.session.SessionSettings;
import net.mailrelay.edge.session.SmtpSession;
import net.mailrelay.edge.session.Step;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.smtp.Reply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@link SmtpSession} on a Netty channel: feeds it framed lines and content, and carries out
 * the steps it returns. Replies to pipelined commands are written as they are decided and flushed when
 * the read batch ends (RFC 2920). The event loop never waits for Kafka: while a message is being
 * published, reading stops, and the reply is written from the publisher's callback.
 */
final class SmtpConnectionHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(SmtpConnectionHandler.class);

    private final SessionSettings settings;
    private final Publisher publisher;
    private final Clock clock;
    private final SmtpFrameDecoder decoder;

    private SmtpSession session;
    private ByteBuf content;
    private long contentSize;
    private boolean publishing;

    SmtpConnectionHandler(SessionSettings settings, Publisher publisher, Clock clock, SmtpFrameDecoder decoder) {
        this.settings = settings;
        this.publisher = publisher;
        this.clock = clock;
        this.decoder = decoder;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetSocketAddress remote = (InetSocketAddress) ctx.channel().remoteAddress();
        session = new SmtpSession(settings, remote.getAddress(), clock);
        ctx.writeAndFlush(wire(session.greeting()));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf chunk) {
            append(chunk);
        } else if (msg instanceof String line) {
            apply(ctx, session.command(line));
        } else if (msg == SmtpFrameDecoder.LINE_TOO_LONG) {
            apply(ctx, session.lineTooLong());
        } else if (msg instanceof SmtpFrameDecoder.EndOfData) {
            apply(ctx, session.endOfData(contentSize));
        } else {
            throw new IllegalArgumentException("unexpected inbound message " + msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    private void apply(ChannelHandlerContext ctx, Step step) {
        if (step instanceof Step.Respond r) {
            ctx.write(wire(r.reply()));
        } else if (step instanceof Step.RespondAndClose r) {
            ctx.writeAndFlush(wire(r.reply())).addListener(ChannelFutureListener.CLOSE);
        } else if (step instanceof Step.ReceiveData r) {
            ctx.write(wire(r.reply()));
            content = ctx.alloc().heapBuffer(8192);
            contentSize = 0;
            decoder.startData();
        } else if (step instanceof Step.Publish p) {
            publish(ctx, p);
        }
    }

    private void append(ByteBuf chunk) {
        try {
            contentSize += chunk.readableBytes();
            // Past the limit the content is counted and dropped; the 552 comes at the end of data (RFC 1870).
            if (content != null && contentSize <= settings.maxMessageSize()) {
                content.writeBytes(chunk);
            } else {
                releaseContent();
            }
        } finally {
            chunk.release();
        }
    }

    private void publish(ChannelHandlerContext ctx, Step.Publish p) {
        byte[] head = RecordCodec.head(p.envelope());
        byte[] trace = p.traceHeader();
        int size = content.readableBytes();
        byte[] value = new byte[head.length + trace.length + size];
        System.arraycopy(head, 0, value, 0, head.length);
        System.arraycopy(trace, 0, value, head.length, trace.length);
        content.readBytes(value, head.length + trace.length, size);
        releaseContent();
        long messageSize = (long) trace.length + size;

        publishing = true;
        decoder.pause();
        ctx.channel().config().setAutoRead(false);
        ctx.flush();
        publisher.publish(p.envelope().queueId(), value).whenComplete((ok, error) ->
                ctx.executor().execute(() -> published(ctx, messageSize, error)));
    }

    private void published(ChannelHandlerContext ctx, long size, Throwable error) {
        publishing = false;
        Reply reply = error == null ? session.published(size) : session.publishFailed(describe(error));
        ctx.writeAndFlush(wire(reply));
        if (!ctx.channel().isActive()) {
            return;
        }
        ctx.channel().config().setAutoRead(true);
        try {
            decoder.resume(ctx.pipeline().context(decoder));
        } catch (Exception e) {
            ctx.fireExceptionCaught(e);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent && !publishing) {
            LOG.info("timeout after {} from [{}]", session.state(), remoteAddress(ctx));
            ctx.writeAndFlush(wire(Replies.IDLE_TIMEOUT)).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.info("connection from [{}] ended by error: {}{}", remoteAddress(ctx), cause.toString(),
                session != null && session.queueId() != null ? " (" + session.queueId() + ")" : "");
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseContent();
    }

    private void releaseContent() {
        if (content != null) {
            content.release();
            content = null;
        }
    }

    private static String remoteAddress(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress().getHostAddress() : "?";
    }

    private static String describe(Throwable error) {
        Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        return e instanceof TimeoutException ? "no acknowledgement in time" : e.toString();
    }

    private static ByteBuf wire(Reply reply) {
        return Unpooled.wrappedBuffer(reply.toWireBytes());
    }
}
