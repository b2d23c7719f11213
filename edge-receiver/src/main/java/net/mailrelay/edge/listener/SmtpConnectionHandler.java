package net.mailrelay.edge.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLSession;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.edge.policy.ConnectionLimits;
import net.mailrelay.edge.session.AuthOutcome;
import net.mailrelay.edge.session.Replies;
import net.mailrelay.edge.session.SessionState;
import net.mailrelay.edge.session.SmtpSession;
import net.mailrelay.edge.session.Step;
import net.mailrelay.protocol.record.RecordCodec;
import net.mailrelay.protocol.smtp.Reply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@link SmtpSession} on a Netty channel: feeds it framed lines and content, and carries out
 * the steps it returns. Replies to pipelined commands are written as they are decided and flushed when
 * the read batch ends, or when framing resumes over bytes already buffered (RFC 2920). The event loop
 * never waits: while the cluster is asked about the client, a password is checked or a message is
 * published, framing stops (and, but for a TLS handshake, so does reading), and the work's callback
 * resumes the session on the event loop.
 */
final class SmtpConnectionHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(SmtpConnectionHandler.class);

    private final ListenerContext context;
    private final SmtpFrameDecoder decoder;
    private final EdgeMetrics.PerListener meters;

    private InetAddress client;
    private boolean admitted;
    private SmtpSession session;
    private MessageContent content;
    private Reply afterDiscard;
    private boolean waiting;
    private boolean opened;
    private boolean tlsUsed;
    /** The verb of the last command, to tag the reply that answers it. */
    private String lastCommand = "connect";
    // Postfix's smtpd_per_record_deadline: the idle timeout bounds the time to receive a whole command
    // line or content line, not each read, so a client trickling a byte at a time cannot hold a
    // connection forever.
    private long recordAt = System.nanoTime();
    private ScheduledFuture<?> deadline;

    SmtpConnectionHandler(ListenerContext context, SmtpFrameDecoder decoder) {
        this.context = context;
        this.decoder = decoder;
        this.meters = context.metrics().listener(context.settings().listener().name());
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        client = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        opened = true;
        meters.opened();
        if (!context.ready().getAsBoolean()) {
            LOG.info("reject: connect from [{}]: not ready (Kafka or the cluster cannot be reached)", client.getHostAddress());
            refuse(ctx, Replies.NOT_READY);
            return;
        }
        ConnectionLimits.Admission admission = context.limits().admit(client);
        if (admission != ConnectionLimits.Admission.ADMITTED) {
            LOG.info("reject: connect from [{}]: {}", client.getHostAddress(), admission);
            refuse(ctx, admission == ConnectionLimits.Admission.TOO_MANY ? Replies.TOO_MANY_CONNECTIONS
                    : Replies.TOO_MANY_CONNECTIONS_FROM_CLIENT);
            return;
        }
        admitted = true;
        session = new SmtpSession(context.settings(), client, context.clock());
        boolean implicitTls = context.settings().listener().implicitTls();
        hold(ctx, implicitTls);
        if (context.settings().relayPolicy().isTrusted(client)) {
            admittedByRate(ctx, true);
        } else {
            context.guard().connectionAllowed(client).whenComplete((ok, error) ->
                    // Soft state: if the cluster cannot say, the client is let in.
                    ctx.executor().execute(() -> admittedByRate(ctx, error != null || Boolean.TRUE.equals(ok))));
        }
    }

    private void admittedByRate(ChannelHandlerContext ctx, boolean allowed) {
        if (!allowed) {
            LOG.info("reject: connect from [{}]: connection rate limit exceeded", client.getHostAddress());
            refuse(ctx, Replies.CONNECTION_RATE);
            return;
        }
        SslHandler tls = ctx.pipeline().get(SslHandler.class);
        if (tls == null) {
            greet(ctx);
            return;
        }
        // Implicit TLS (RFC 8314): the greeting is the first thing said inside the encrypted channel.
        afterHandshake(ctx, tls, () -> greet(ctx));
    }

    private void afterHandshake(ChannelHandlerContext ctx, SslHandler tls, Runnable then) {
        tls.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                tlsUsed = true;
                session.tlsEstablished(describe(tls));
                then.run();
            } else {
                LOG.info("TLS handshake with [{}] failed: {}", client.getHostAddress(), f.cause().getMessage());
                ctx.close();
            }
        });
    }

    private void greet(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(wire(session.greeting()));
        resume(ctx);
    }

    private void refuse(ChannelHandlerContext ctx, Reply reply) {
        ctx.writeAndFlush(wire(reply)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        long period = Math.max(50, context.idleTimeout().toMillis() / 4);
        deadline = ctx.executor().scheduleAtFixedRate(() -> checkDeadline(ctx), period, period, TimeUnit.MILLISECONDS);
    }

    private void checkDeadline(ChannelHandlerContext ctx) {
        if (waiting || session == null || !ctx.channel().isActive()
                || System.nanoTime() - recordAt < context.idleTimeout().toNanos()) {
            return;
        }
        deadline.cancel(false);
        LOG.info("{}timeout after {} from [{}]: no complete line within {}", session.queueId() == null ? ""
                : session.queueId() + ": ", session.state(), client.getHostAddress(), context.idleTimeout());
        ctx.writeAndFlush(wire(Replies.IDLE_TIMEOUT)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (session != null && session.state() == SessionState.CLOSED) {
            // The reply that ended the session (221, 421) is on its way and the channel closes after it;
            // whatever the client pipelined behind it is dropped unread, as Postfix's smtpd does.
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!(msg instanceof ByteBuf chunk) || chunk.indexOf(chunk.readerIndex(), chunk.writerIndex(), (byte) '\n') >= 0) {
            recordAt = System.nanoTime();
        }
        if (msg instanceof ByteBuf chunk) {
            content.append(chunk);
        } else if (msg instanceof String line) {
            lastCommand = verb(line);
            apply(ctx, session.command(line));
        } else if (msg == SmtpFrameDecoder.LINE_TOO_LONG) {
            lastCommand = "other";
            apply(ctx, session.lineTooLong());
        } else if (msg instanceof SmtpFrameDecoder.EndOfData end) {
            Step step = session.endOfData(content.size(), content.facts(end.bareLineFeeds()));
            if (!(step instanceof Step.Publish)) {
                dropContent();
            }
            apply(ctx, step);
        } else if (msg == SmtpFrameDecoder.CHUNK_END) {
            chunkEnded(ctx);
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
            dropContent();
            content = new MessageContent(ctx.alloc(), context.settings().maxMessageSize());
            decoder.startData();
        } else if (step instanceof Step.ReceiveChunk c) {
            if (c.first()) {
                dropContent();
                content = new MessageContent(ctx.alloc(), context.settings().maxMessageSize());
            }
            if (c.octets() == 0) {
                chunkEnded(ctx);
            } else {
                decoder.startChunk(c.octets(), false);
            }
        } else if (step instanceof Step.DiscardChunk d) {
            if (d.octets() == 0) {
                ctx.write(wire(d.reply()));
            } else {
                afterDiscard = d.reply();
                decoder.startChunk(d.octets(), true);
            }
        } else if (step instanceof Step.StartTls s) {
            startTls(ctx, s.reply());
        } else if (step instanceof Step.Authenticate a) {
            authenticate(ctx, a);
        } else if (step instanceof Step.Publish p) {
            publish(ctx, p);
        }
    }

    private void chunkEnded(ChannelHandlerContext ctx) {
        if (afterDiscard != null) {
            ctx.write(wire(afterDiscard));
            afterDiscard = null;
            return;
        }
        Step step = session.chunkEnded(content.size(), content.facts(0));
        if (!(step instanceof Step.Publish) && session.queueId() == null) {
            dropContent(); // the message was refused; a chunk that is not the last keeps its content
        }
        apply(ctx, step);
    }

    /**
     * RFC 3207: the 220 is the last plaintext. Whatever the client sent after STARTTLS in the same
     * packets is dropped (CVE-2011-0411), and TLS goes on before the reply so that the reply itself is
     * sent in the clear but nothing after it is.
     */
    private void startTls(ChannelHandlerContext ctx, Reply reply) {
        decoder.discardBuffered();
        hold(ctx, true);
        SslHandler tls = new SslHandler(context.tls().newEngine(ctx.alloc()), true);
        ctx.pipeline().addFirst("tls", tls);
        ctx.writeAndFlush(wire(reply));
        afterHandshake(ctx, tls, () -> resume(ctx));
    }

    private void authenticate(ChannelHandlerContext ctx, Step.Authenticate a) {
        hold(ctx, false);
        ctx.flush();
        context.authenticator().check(client, a.user(), a.password()).whenComplete((outcome, error) ->
                ctx.executor().execute(() -> {
                    if (outcome == AuthOutcome.REJECTED || outcome == AuthOutcome.THROTTLED) {
                        meters.authFailed();
                    }
                    apply(ctx, session.authenticated(error != null ? AuthOutcome.UNAVAILABLE : outcome));
                    ctx.flush();
                    resume(ctx);
                }));
    }

    private void publish(ChannelHandlerContext ctx, Step.Publish p) {
        byte[] head = RecordCodec.head(p.envelope());
        byte[] value = content.toRecordValue(head, p.traceHeader());
        content = null;
        hold(ctx, false);
        ctx.flush();
        long started = System.nanoTime();
        boolean trusted = context.settings().relayPolicy().isTrusted(client);
        // DKIM signs before the publish, off the event loop; a signing failure is a 451 like a publish failure.
        context.signing().sign(p.envelope(), trusted, value, head.length)
                .thenCompose(signed -> context.publisher().publish(p.envelope().queueId(), signed.value())
                        .thenApply(ok -> signed))
                .whenComplete((signed, error) -> ctx.executor().execute(() -> {
                    context.metrics().publishTook(java.time.Duration.ofNanos(System.nanoTime() - started), error == null);
                    if (error == null) {
                        meters.accepted(signed.messageSize());
                    }
                    Reply reply = error == null ? session.published(signed.messageSize(), signed.signatures())
                            : session.publishFailed(describe(error));
                    ctx.writeAndFlush(wire(reply));
                    resume(ctx);
                }));
    }

    /** Stops framing; with {@code keepReading}, bytes still flow (a TLS handshake needs them). */
    private void hold(ChannelHandlerContext ctx, boolean keepReading) {
        waiting = true;
        decoder.pause();
        ctx.channel().config().setAutoRead(keepReading);
    }

    private void resume(ChannelHandlerContext ctx) {
        waiting = false;
        recordAt = System.nanoTime();
        if (!ctx.channel().isActive()) {
            return;
        }
        ctx.channel().config().setAutoRead(true);
        try {
            decoder.resume(ctx.pipeline().context(decoder));
        } catch (Exception e) {
            ctx.fireExceptionCaught(e);
        }
        // Commands the client pipelined behind the end of data, AUTH or the TLS handshake (RFC 2920) were
        // just framed and answered with ctx.write. Outside a real read no channelReadComplete follows to
        // flush those replies, and the client, which waits for them, sends nothing that would cause one.
        ctx.flush();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent && !waiting && session != null) {
            LOG.info("timeout after {} from [{}]", session.state(), client.getHostAddress());
            ctx.writeAndFlush(wire(Replies.IDLE_TIMEOUT)).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.info("connection from [{}] ended by error: {}{}", client == null ? "?" : client.getHostAddress(),
                cause.toString(), session != null && session.queueId() != null ? " (" + session.queueId() + ")" : "");
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (opened) {
            opened = false;
            meters.closed(tlsUsed);
        }
        if (admitted) {
            admitted = false;
            context.limits().release(client);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (deadline != null) {
            deadline.cancel(false);
        }
        dropContent();
    }

    private void dropContent() {
        if (content != null) {
            content.release();
            content = null;
        }
    }

    private static String describe(SslHandler tls) {
        SSLSession s = tls.engine().getSession();
        return s.getProtocol() + " " + s.getCipherSuite();
    }

    private static String describe(Throwable error) {
        Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        return e instanceof TimeoutException ? "no acknowledgement in time" : e.toString();
    }

    private ByteBuf wire(Reply reply) {
        context.metrics().replied(lastCommand, reply);
        return Unpooled.wrappedBuffer(reply.toWireBytes());
    }

    /** The command's verb in lower case: "MAIL FROM:<a@b>" is "mail". */
    private static String verb(String line) {
        int end = 0;
        while (end < line.length() && end < 10 && Character.isLetter(line.charAt(end))) {
            end++;
        }
        return line.substring(0, end).toLowerCase(java.util.Locale.ROOT);
    }
}
