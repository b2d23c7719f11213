package net.mailrelay.delivery.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.smtp.DefaultLastSmtpContent;
import io.netty.handler.codec.smtp.DefaultSmtpRequest;
import io.netty.handler.codec.smtp.SmtpCommand;
import io.netty.handler.codec.smtp.SmtpRequests;
import io.netty.handler.codec.smtp.SmtpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs one {@link OutboundSession} on a Netty channel that has Netty's SMTP codec: turns replies into
 * session input and session actions into requests, and enforces the per-stage timeouts.
 */
final class SmtpClientHandler extends SimpleChannelInboundHandler<SmtpResponse> {

    private final OutboundSession session;
    private final Timeouts timeouts;
    private final ByteBuf message;
    private final String peer;
    private final CompletableFuture<SessionReport> result;
    private ScheduledFuture<?> timer;
    private boolean finished;

    SmtpClientHandler(OutboundSession session, Timeouts timeouts, ByteBuf message, String peer,
            CompletableFuture<SessionReport> result) {
        this.session = session;
        this.timeouts = timeouts;
        this.message = message;
        this.peer = peer;
        this.result = result;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(ctx, timeouts.greeting());
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, SmtpResponse response) {
        if (finished) {
            return; // the reply to QUIT, or anything after it
        }
        disarm();
        List<String> lines = response.details().stream().map(CharSequence::toString).toList();
        perform(ctx, session.onReply(new RemoteReply(response.code(), lines.isEmpty() ? List.of("") : lines)));
    }

    private void perform(ChannelHandlerContext ctx, OutboundSession.Action action) {
        if (action instanceof OutboundSession.Action.Send send) {
            ctx.writeAndFlush(request(send.command()));
            arm(ctx, timeouts.forStage(session.stage()));
        } else if (action instanceof OutboundSession.Action.SendMessage) {
            arm(ctx, timeouts.dataBlock());
            ctx.writeAndFlush(new DefaultLastSmtpContent(message.retain())).addListener(f -> {
                if (f.isSuccess() && !finished) {
                    disarm();
                    arm(ctx, timeouts.finalDot());
                }
            });
        } else {
            finish(ctx);
        }
    }

    private void finish(ChannelHandlerContext ctx) {
        finished = true;
        disarm();
        result.complete(session.report());
        if (ctx.channel().isActive()) {
            ctx.writeAndFlush(SmtpRequests.quit()).addListener(ChannelFutureListener.CLOSE);
            // Do not wait long for the server to answer QUIT.
            ctx.executor().schedule(() -> ctx.close(), 5, TimeUnit.SECONDS);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!finished) {
            session.onConnectionLost("lost connection with " + peer + " while " + whileDoing());
            finish(ctx);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!finished) {
            session.onConnectionLost("connection with " + peer + " failed while " + whileDoing() + ": " + cause.getMessage());
            finish(ctx);
        }
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        disarm();
        message.release();
    }

    private String whileDoing() {
        return switch (session.stage()) {
            case GREETING -> "receiving the initial server greeting";
            case DOT -> "sending message body";
            default -> "sending " + session.stage().name() + (session.stage() == Stage.MAIL ? " FROM" : "")
                    + (session.stage() == Stage.RCPT ? " TO" : "");
        };
    }

    private void arm(ChannelHandlerContext ctx, Duration timeout) {
        timer = ctx.executor().schedule(() -> {
            if (!finished) {
                session.onConnectionLost("conversation with " + peer + " timed out while " + whileDoing());
                finish(ctx);
                ctx.close();
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void disarm() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private static DefaultSmtpRequest request(String command) {
        int space = command.indexOf(' ');
        if (space < 0) {
            return new DefaultSmtpRequest(SmtpCommand.valueOf(command));
        }
        return new DefaultSmtpRequest(SmtpCommand.valueOf(command.substring(0, space)), command.substring(space + 1));
    }
}
