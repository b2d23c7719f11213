package net.mailrelay.delivery.attempt;

import java.util.ArrayList;
import java.util.List;
import net.mailrelay.delivery.smtp.RemoteReply;
import net.mailrelay.delivery.smtp.SessionReport;
import net.mailrelay.delivery.smtp.Stage;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusClass;
import net.mailrelay.protocol.smtp.StatusDetail;

/**
 * Every "retry, next MX, or bounce" decision, in one place (Postfix's smtp_trouble.c), one method per
 * place a session can go wrong. I/O failures map to fixed statuses: no connection or no answer is
 * 4.4.1, a lost connection or a timeout during the conversation is 4.4.2.
 */
final class DeliveryTrouble {

    private DeliveryTrouble() {
    }

    /** The verdict for each recipient offered in this session. */
    static List<Verdict> judge(SessionReport report, List<String> recipients, boolean moreServers) {
        if (report.endedAt() == Stage.CONNECT) {
            return notConnected(report, recipients, moreServers);
        }
        if (report.localRefusal() != null) {
            return refusedLocally(report, recipients);
        }
        if (report.endingReply() != null) {
            return switch (report.endedAt()) {
                case GREETING -> greetingRefused(report, recipients, moreServers);
                case EHLO, HELO -> heloRefused(report, recipients, moreServers);
                case MAIL -> senderRefused(report, recipients);
                case DATA -> perRecipient(report, recipients, report.endingReply(), Stage.DATA);
                default -> throw new IllegalStateException("session ended by a reply at " + report.endedAt());
            };
        }
        if (report.ioProblem() != null) {
            return connectionLost(report, recipients, moreServers);
        }
        return perRecipient(report, recipients, report.finalReply(), Stage.DOT);
    }

    /** Connection refused or timed out: another server may do better (4.4.1). */
    private static List<Verdict> notConnected(SessionReport r, List<String> recipients, boolean moreServers) {
        EnhancedStatus s = EnhancedStatus.transientFailure(StatusDetail.NO_ANSWER);
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, s, r.ioProblem())
                : new Verdict.Deferred(rcpt, s, r.host(), r.address(), null, r.ioProblem()));
    }

    /**
     * A 4xx or 5xx greeting: move on to the next server, and defer when none is left (Postfix
     * smtp_skip_5xx_greeting = yes), because a server refusing to talk says nothing about the recipient.
     */
    private static List<Verdict> greetingRefused(SessionReport r, List<String> recipients, boolean moreServers) {
        RemoteReply reply = r.endingReply();
        EnhancedStatus s = asTransient(reply.status());
        String why = said(r, reply, Stage.GREETING);
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, s, why)
                : new Verdict.Deferred(rcpt, s, r.host(), r.address(), reply.toString(), why));
    }

    /** EHLO and HELO both refused: 5xx is the server's final word, 4xx may pass with another server. */
    private static List<Verdict> heloRefused(SessionReport r, List<String> recipients, boolean moreServers) {
        RemoteReply reply = r.endingReply();
        String why = said(r, reply, r.endedAt());
        if (reply.isPermanent()) {
            return all(recipients, rcpt -> new Verdict.Failed(rcpt, reply.status(), r.host(), r.address(), reply.toString(), why));
        }
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, reply.status(), why)
                : new Verdict.Deferred(rcpt, reply.status(), r.host(), r.address(), reply.toString(), why));
    }

    /** MAIL FROM refused: the same answer holds for every recipient of this message. */
    private static List<Verdict> senderRefused(SessionReport r, List<String> recipients) {
        RemoteReply reply = r.endingReply();
        return all(recipients, rcpt -> decided(r, rcpt, reply, Stage.MAIL));
    }

    /**
     * The normal course: each RCPT reply decides its recipient; for the accepted ones, the reply to DATA
     * (when it refused) or to the end of data decides.
     */
    private static List<Verdict> perRecipient(SessionReport r, List<String> recipients, RemoteReply messageReply,
            Stage messageStage) {
        return all(recipients, rcpt -> {
            RemoteReply rcptReply = r.recipientReplies().get(rcpt);
            if (rcptReply == null) {
                EnhancedStatus s = EnhancedStatus.transientFailure(StatusDetail.BAD_CONNECTION);
                return new Verdict.Deferred(rcpt, s, r.host(), r.address(), null, "recipient not offered to " + peer(r));
            }
            if (!rcptReply.isPositive()) {
                return decided(r, rcpt, rcptReply, Stage.RCPT);
            }
            if (messageReply == null) {
                EnhancedStatus s = EnhancedStatus.transientFailure(StatusDetail.BAD_CONNECTION);
                return new Verdict.Deferred(rcpt, s, r.host(), r.address(), null, "no reply from " + peer(r) + " to the message");
            }
            return decided(r, rcpt, messageReply, messageStage);
        });
    }

    /**
     * Lost connection or timeout mid-conversation (4.4.2). Before the message was sent, another server
     * may take it; once the final dot was sent the server may have it already, so defer instead of
     * trying elsewhere straight away (RFC 1047).
     */
    private static List<Verdict> connectionLost(SessionReport r, List<String> recipients, boolean moreServers) {
        EnhancedStatus s = EnhancedStatus.transientFailure(StatusDetail.BAD_CONNECTION);
        boolean messageMayHaveArrived = r.endedAt() == Stage.DOT;
        return all(recipients, rcpt -> {
            RemoteReply rcptReply = r.recipientReplies().get(rcpt);
            if (rcptReply != null && !rcptReply.isPositive()) {
                return decided(r, rcpt, rcptReply, Stage.RCPT);
            }
            if (moreServers && !messageMayHaveArrived) {
                return new Verdict.TryNext(rcpt, s, r.ioProblem());
            }
            return new Verdict.Deferred(rcpt, s, r.host(), r.address(), null, r.ioProblem());
        });
    }

    /** This client would not send (size, 8-bit or UTF-8 the server cannot take): permanent. */
    private static List<Verdict> refusedLocally(SessionReport r, List<String> recipients) {
        SessionReport.LocalRefusal refusal = r.localRefusal();
        return all(recipients, rcpt -> new Verdict.Failed(rcpt, refusal.status(), r.host(), r.address(), null, refusal.text()));
    }

    private static Verdict decided(SessionReport r, String rcpt, RemoteReply reply, Stage stage) {
        String why = said(r, reply, stage);
        if (reply.isPositive()) {
            return new Verdict.Delivered(rcpt, reply.status(), r.host(), r.address(), reply.toString(), why);
        }
        if (reply.isTransient()) {
            return new Verdict.Deferred(rcpt, reply.status(), r.host(), r.address(), reply.toString(), why);
        }
        return new Verdict.Failed(rcpt, reply.status(), r.host(), r.address(), reply.toString(), why);
    }

    private static EnhancedStatus asTransient(EnhancedStatus s) {
        return new EnhancedStatus(StatusClass.PERSISTENT_TRANSIENT_FAILURE, s.detail());
    }

    private static String said(SessionReport r, RemoteReply reply, Stage stage) {
        return "host " + peer(r) + " said: " + reply + " (" + stage.phrase() + ")";
    }

    private static String peer(SessionReport r) {
        String ip = r.address() == null ? "" : r.address().substring(0, r.address().lastIndexOf(':'));
        return r.host() + "[" + ip + "]";
    }

    private static List<Verdict> all(List<String> recipients, java.util.function.Function<String, Verdict> f) {
        List<Verdict> out = new ArrayList<>(recipients.size());
        recipients.forEach(r -> out.add(f.apply(r)));
        return out;
    }
}
