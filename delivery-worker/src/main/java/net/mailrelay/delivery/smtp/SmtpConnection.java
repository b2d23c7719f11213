package net.mailrelay.delivery.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.smtp.DefaultLastSmtpContent;
import io.netty.handler.codec.smtp.DefaultSmtpRequest;
import io.netty.handler.codec.smtp.LastSmtpContent;
import io.netty.handler.codec.smtp.SmtpCommand;
import io.netty.handler.codec.smtp.SmtpRequests;
import io.netty.handler.codec.smtp.SmtpResponse;
import io.netty.handler.ssl.SslHandler;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;

/**
 * One SMTP client connection on a Netty channel with Netty's SMTP codec: runs its
 * {@link ClientSession}, writes what it asks for, feeds it replies and TLS events, enforces the
 * per-stage timeouts, and hands each transaction's report to whoever asked for the transaction.
 * Everything here runs on the channel's event loop; the public methods may be called from anywhere.
 */
final class SmtpConnection extends SimpleChannelInboundHandler<SmtpResponse> {

    private final ClientSession session;
    private final ConnectionSpec spec;
    private final ClientTls tls;
    private final Timeouts timeouts;
    private final String host;
    private final String peer;
    private final int port;
    private final long openedAt = System.nanoTime();
    /** Completes with null once the connection is set up, or with the report of why it could not be. */
    final CompletableFuture<SessionReport> setup = new CompletableFuture<>();
    private CompletableFuture<SessionReport> current;
    private ByteBuf message;
    private ScheduledFuture<?> timer;
    private ChannelHandlerContext ctx;
    private volatile boolean usable = true;
    private boolean closing;
    private volatile long idleSince = System.nanoTime();

    SmtpConnection(ClientSession session, ConnectionSpec spec, ClientTls tls, Timeouts timeouts, String host, String peer, int port) {
        this.session = session;
        this.spec = spec;
        this.tls = tls;
        this.timeouts = timeouts;
        this.host = host;
        this.peer = peer;
        this.port = port;
    }

    /** Runs one transaction; the message buffer is released when done. Never fails: problems are reports. */
    CompletableFuture<SessionReport> send(ClientSession.Transaction tx, ByteBuf content) {
        CompletableFuture<SessionReport> result = new CompletableFuture<>();
        Channel ch = ctx.channel();
        ch.eventLoop().execute(() -> {
            if (closing || !ch.isActive() || !session.isReady()) {
                content.release();
                // Treated like a connection lost before MAIL: the recipients go to a fresh connection.
                result.complete(new SessionReport(host, peer, Stage.RSET, null, "connection with " + peer + " closed while idle",
                        null, Map.of(), null, session.tls(), false));
                return;
            }
            current = result;
            message = content;
            usable = false;
            perform(session.begin(tx));
        });
        return result;
    }

    boolean reusable(int maxTransactions, Duration maxAge) {
        return usable && ctx != null && ctx.channel().isActive() && session.isReady()
                && session.transactions() < maxTransactions && System.nanoTime() - openedAt < maxAge.toNanos();
    }

    long idleNanos() {
        return System.nanoTime() - idleSince;
    }

    /** Says QUIT and closes; not while a transaction is running (it then says goodbye when done, if asked). */
    void quit() {
        if (ctx == null) {
            return;
        }
        usable = false;
        ctx.channel().eventLoop().execute(() -> {
            if (current != null) {
                return; // taken for a transaction after all: whoever took it gives it back, and decides then
            }
            if (ctx.channel().isActive() && !closing) {
                closing = true;
                ctx.writeAndFlush(SmtpRequests.quit()).addListener(ChannelFutureListener.CLOSE);
                ctx.executor().schedule(() -> ctx.close(), 5, TimeUnit.SECONDS);
            }
        });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(timeouts.greeting());
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, SmtpResponse response) {
        disarm();
        if (closing && current == null) {
            return; // the reply to QUIT, or anything after it
        }
        if (current == null && setup.isDone()) {
            // Unsolicited, such as a 421 when the server tires of an idle connection: done with it.
            usable = false;
            closing = true;
            ctx.close();
            return;
        }
        List<String> lines = response.details().stream().map(CharSequence::toString).toList();
        perform(session.onReply(new RemoteReply(response.code(), lines.isEmpty() ? List.of("") : lines)));
    }

    private void perform(ClientSession.Action action) {
        if (action instanceof ClientSession.Action.Send s) {
            for (String command : s.commands()) {
                ctx.write(request(command));
            }
            ctx.flush();
            arm(timeouts.forStage(session.stage()));
        } else if (action instanceof ClientSession.Action.SendMessage m) {
            arm(timeouts.dataBlock());
            ByteBuf content = m.empty() ? Unpooled.EMPTY_BUFFER : message;
            message = null;
            ctx.writeAndFlush(m.empty() ? LastSmtpContent.EMPTY_LAST_CONTENT : new DefaultLastSmtpContent(content))
                    .addListener(f -> {
                        if (f.isSuccess() && session.stage() == Stage.DOT) {
                            disarm();
                            arm(timeouts.finalDot());
                        }
                    });
            if (m.empty()) {
                releaseMessage();
            }
        } else if (action instanceof ClientSession.Action.StartTls) {
            startTls();
        } else if (action instanceof ClientSession.Action.Ready) {
            disarm();
            usable = true;
            idleSince = System.nanoTime();
            setup.complete(null);
        } else if (action instanceof ClientSession.Action.TransactionDone d) {
            disarm();
            releaseMessage();
            usable = true;
            idleSince = System.nanoTime();
            complete(d.report());
        } else if (action instanceof ClientSession.Action.Finish f) {
            disarm();
            usable = false;
            releaseMessage();
            if (f.report() != null) {
                if (!setup.isDone()) {
                    setup.complete(f.report());
                }
                complete(f.report());
            }
            quit();
        }
    }

    private void startTls() {
        arm(timeouts.greeting());
        SslHandler handler = tls.handler(spec.tls(), ctx.alloc(), host, port);
        ctx.pipeline().addFirst("tls", handler);
        handler.handshakeFuture().addListener(f -> {
            disarm();
            if (f.isSuccess()) {
                SSLSession s = handler.engine().getSession();
                perform(session.onTlsEstablished(s.getProtocol() + " " + s.getCipherSuite()));
            } else {
                perform(session.onTlsFailed(String.valueOf(f.cause().getMessage())));
            }
        });
    }

    private void complete(SessionReport report) {
        CompletableFuture<SessionReport> c = current;
        current = null;
        if (c != null) {
            c.complete(report);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        usable = false;
        lost("lost connection with " + peer + " while " + whileDoing());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        lost("connection with " + peer + " failed while " + whileDoing() + ": " + cause.getMessage());
        ctx.close();
    }

    private void lost(String problem) {
        usable = false;
        // A transaction in progress always gets its report, even on a connection being closed: a
        // delivery thread is waiting for it.
        if (current != null || !closing && !setup.isDone()) {
            perform(session.onConnectionLost(problem));
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        disarm();
        releaseMessage();
    }

    private void releaseMessage() {
        if (message != null) {
            message.release();
            message = null;
        }
    }

    private String whileDoing() {
        return switch (session.stage()) {
            case GREETING -> "receiving the initial server greeting";
            case DOT -> "sending message body";
            case TLS_HANDSHAKE -> "performing the TLS handshake";
            case DONE -> "idle";
            default -> "sending " + session.stage().name() + (session.stage() == Stage.MAIL ? " FROM" : "")
                    + (session.stage() == Stage.RCPT ? " TO" : "");
        };
    }

    private void arm(Duration timeout) {
        disarm();
        timer = ctx.executor().schedule(() -> {
            lost("conversation with " + peer + " timed out while " + whileDoing());
            ctx.close();
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void disarm() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /**
     * A request for Netty's encoder, which writes parameters as ASCII. A command with UTF-8 in it (an
     * SMTPUTF8 address, RFC 6531) is written as UTF-8 bytes instead; the encoder passes byte buffers on
     * untouched, and MAIL and RCPT do not change its state.
     */
    private static Object request(String command) {
        if (!command.chars().allMatch(c -> c < 0x80)) {
            return Unpooled.wrappedBuffer((command + "\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        int space = command.indexOf(' ');
        if (space < 0) {
            return new DefaultSmtpRequest(SmtpCommand.valueOf(command));
        }
        return new DefaultSmtpRequest(SmtpCommand.valueOf(command.substring(0, space)), command.substring(space + 1));
    }
}
