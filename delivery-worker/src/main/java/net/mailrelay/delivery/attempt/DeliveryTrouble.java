package net.mailrelay.delivery.attempt;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import net.mailrelay.delivery.route.Resolution;
import net.mailrelay.delivery.smtp.RemoteReply;
import net.mailrelay.delivery.smtp.SessionReport;
import net.mailrelay.delivery.smtp.Stage;
import net.mailrelay.delivery.smtp.TlsPolicy;
import net.mailrelay.protocol.smtp.EnhancedStatus;
import net.mailrelay.protocol.smtp.StatusClass;
import net.mailrelay.protocol.smtp.StatusDetail;

/**
 * Every "retry, next MX, or bounce" decision, in one place (Postfix's smtp_trouble.c): one method per
 * place a session can go wrong, and one per reason a recipient is not attempted at all (held,
 * claimed, suppressed, unroutable, suspended, over its rate, a local error). I/O failures map to fixed
 * statuses: no connection or no answer is 4.4.1, a lost connection or a timeout during the
 * conversation is 4.4.2, a failed TLS handshake 4.7.5. What is not a final word is made one by
 * {@link #finalWord}, which fails closed: to a retry, never to "delivered".
 */
final class DeliveryTrouble {

    private DeliveryTrouble() {
    }

    /** The verdict for each recipient offered in this session. */
    static List<Verdict> judge(SessionReport report, List<String> recipients, boolean moreServers, TlsPolicy tls) {
        if (report.endedAt() == Stage.WAIT) {
            return atLimit(report, recipients);
        }
        if (report.endedAt() == Stage.CONNECT) {
            return notConnected(report, recipients, moreServers);
        }
        if (report.endedAt() == Stage.TLS_HANDSHAKE) {
            return tlsFailed(report, recipients, moreServers, tls);
        }
        if (report.localRefusal() != null) {
            return refusedLocally(report, recipients, moreServers);
        }
        if (report.endingReply() != null) {
            return switch (report.endedAt()) {
                case GREETING -> greetingRefused(report, recipients, moreServers);
                case EHLO, HELO -> heloRefused(report, recipients, moreServers);
                case AUTH -> authRefused(report, recipients, moreServers);
                case RSET -> connectionLost(report, recipients, moreServers);
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

    /**
     * The destination has as many connections as the cluster allows: not an attempt at all. The mail
     * waits on the shortest retry tier (4.4.5, "mail system congestion").
     */
    private static List<Verdict> atLimit(SessionReport r, List<String> recipients) {
        EnhancedStatus s = EnhancedStatus.transientFailure(new StatusDetail(4, 5));
        return all(recipients, rcpt -> new Verdict.Postponed(rcpt, s, r.ioProblem(), Verdict.Postponed.Limit.CONNECTIONS));
    }

    /**
     * Whether the session says the destination itself is unwell (no connection, greeting refused,
     * conversation lost or timed out before the transaction), as opposed to trouble with this message.
     */
    static boolean destinationUnwell(SessionReport r) {
        return switch (r.endedAt()) {
            case CONNECT, GREETING -> true;
            case EHLO, HELO, STARTTLS, TLS_HANDSHAKE, AUTH -> r.ioProblem() != null
                    || r.endingReply() != null && r.endingReply().isTransient();
            default -> false;
        };
    }

    /** Connection refused or timed out: another server may do better (4.4.1). */
    private static List<Verdict> notConnected(SessionReport r, List<String> recipients, boolean moreServers) {
        EnhancedStatus s = EnhancedStatus.transientFailure(StatusDetail.NO_ANSWER);
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, s, r.ioProblem())
                : new Verdict.Deferred(rcpt, s, remote(r, null), r.ioProblem()));
    }

    /**
     * The TLS handshake failed (4.7.5). With opportunistic TLS the same server is tried again in
     * plaintext; where TLS is mandatory, another server, or later.
     */
    private static List<Verdict> tlsFailed(SessionReport r, List<String> recipients, boolean moreServers, TlsPolicy tls) {
        EnhancedStatus s = EnhancedStatus.transientFailure(new StatusDetail(7, 5));
        if (!tls.mandatory()) {
            return all(recipients, rcpt -> new Verdict.TryWithoutTls(rcpt, s, r.ioProblem()));
        }
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, s, r.ioProblem())
                : new Verdict.Deferred(rcpt, s, remote(r, null), r.ioProblem()));
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
                : new Verdict.Deferred(rcpt, s, remote(r, reply), why));
    }

    /** EHLO and HELO both refused: 5xx is the server's final word, 4xx may pass with another server. */
    private static List<Verdict> heloRefused(SessionReport r, List<String> recipients, boolean moreServers) {
        RemoteReply reply = r.endingReply();
        String why = said(r, reply, r.endedAt());
        if (reply.isPermanent()) {
            return all(recipients, rcpt -> new Verdict.Failed(rcpt, reply.status(), remote(r, reply), why));
        }
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, reply.status(), why)
                : new Verdict.Deferred(rcpt, reply.status(), remote(r, reply), why));
    }

    /**
     * The smarthost refused our credentials: a configuration problem at our end, so the mail waits
     * rather than bounces (Postfix smtp_sasl_auth_soft_bounce = yes).
     */
    private static List<Verdict> authRefused(SessionReport r, List<String> recipients, boolean moreServers) {
        RemoteReply reply = r.endingReply();
        EnhancedStatus s = asTransient(reply.status());
        String why = "SASL authentication failed; " + said(r, reply, Stage.AUTH);
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, s, why)
                : new Verdict.Deferred(rcpt, s, remote(r, reply), why));
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
                return new Verdict.Deferred(rcpt, s, remote(r, null), "recipient not offered to " + peer(r));
            }
            if (!rcptReply.isPositive()) {
                return decided(r, rcpt, rcptReply, Stage.RCPT);
            }
            if (messageReply == null) {
                EnhancedStatus s = EnhancedStatus.transientFailure(StatusDetail.BAD_CONNECTION);
                return new Verdict.Deferred(rcpt, s, remote(r, null), "no reply from " + peer(r) + " to the message");
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
        String why = r.ioProblem() != null ? r.ioProblem() : said(r, r.endingReply(), r.endedAt());
        return all(recipients, rcpt -> {
            RemoteReply rcptReply = r.recipientReplies().get(rcpt);
            if (rcptReply != null && !rcptReply.isPositive()) {
                return decided(r, rcpt, rcptReply, Stage.RCPT);
            }
            if (moreServers && !messageMayHaveArrived) {
                return new Verdict.TryNext(rcpt, s, why);
            }
            return new Verdict.Deferred(rcpt, s, remote(r, null), why);
        });
    }

    /**
     * This client would not go on: size, 8-bit or UTF-8 the server cannot take (permanent, for this
     * message), or TLS required but not to be had, or no TLS to protect a password (temporary: another
     * server, or later).
     */
    private static List<Verdict> refusedLocally(SessionReport r, List<String> recipients, boolean moreServers) {
        SessionReport.LocalRefusal refusal = r.localRefusal();
        if (refusal.status().isPermanent()) {
            return all(recipients, rcpt -> new Verdict.Failed(rcpt, refusal.status(), remote(r, null), refusal.text()));
        }
        return all(recipients, rcpt -> moreServers ? new Verdict.TryNext(rcpt, refusal.status(), refusal.text())
                : new Verdict.Deferred(rcpt, refusal.status(), remote(r, null), refusal.text()));
    }

    private static Verdict decided(SessionReport r, String rcpt, RemoteReply reply, Stage stage) {
        String why = said(r, reply, stage);
        if (reply.isPositive()) {
            return new Verdict.Delivered(rcpt, reply.status(), remote(r, reply), why);
        }
        if (reply.isTransient()) {
            return new Verdict.Deferred(rcpt, reply.status(), remote(r, reply), why);
        }
        return new Verdict.Failed(rcpt, reply.status(), remote(r, reply), why);
    }

    private static Verdict.Remote remote(SessionReport r, RemoteReply reply) {
        return new Verdict.Remote(r.host(), r.address(), reply == null ? null : reply.toString(), r.tls(), r.dsn());
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

    // ---- recipients not attempted ----------------------------------------------------------------

    /** 4.4.5, "mail system congestion": not an attempt, for a reason that says nothing of the message. */
    private static final EnhancedStatus NOT_NOW = EnhancedStatus.transientFailure(new StatusDetail(4, 5));

    /** Postfix's hold queue: no attempt at all until released; not counted as an attempt. */
    static Verdict held(String rcpt, String domain) {
        return new Verdict.Postponed(rcpt, NOT_NOW, "delivery to " + domain + " is on hold by the administrator",
                Verdict.Postponed.Limit.HELD);
    }

    /** Another delivery (on any worker) holds the recipient's claim: it is being delivered right now. */
    static Verdict claimedElsewhere(String rcpt) {
        return new Verdict.Postponed(rcpt, NOT_NOW, "another worker is delivering this recipient right now",
                Verdict.Postponed.Limit.CLAIM);
    }

    /** A hard bounce put the address on the suppression list: bounced at once (5.1.1). */
    static Verdict suppressed(String rcpt, String reason) {
        return new Verdict.Failed(rcpt, EnhancedStatus.permanentFailure(StatusDetail.BAD_MAILBOX), null,
                "recipient address suppressed after an earlier hard bounce: " + reason);
    }

    /**
     * No route: a domain that does not exist, a null MX or an MX that loops back to this relay fails
     * (5.1.2, 5.1.10, 5.4.6); a DNS server failure or timeout defers (4.4.3).
     */
    static List<Verdict> unroutable(Resolution.Failure f, List<String> recipients) {
        return all(recipients, r -> f.status().isPermanent() ? new Verdict.Failed(r, f.status(), null, f.text())
                : new Verdict.Deferred(r, f.status(), null, f.text()));
    }

    /** Postfix's dead destination: no connection is tried until the cluster's backoff for it ends (4.4.1). */
    static List<Verdict> suspended(String why, List<String> recipients) {
        return all(recipients, r -> new Verdict.Deferred(r, EnhancedStatus.transientFailure(StatusDetail.NO_ANSWER), null,
                "delivery temporarily suspended: " + why));
    }

    /** The destination is over its cluster-wide message rate: not an attempt. */
    static List<Verdict> overRate(String destination, List<String> recipients) {
        return all(recipients, r -> new Verdict.Postponed(r, NOT_NOW, "destination " + destination + " is over its message rate",
                Verdict.Postponed.Limit.RATE));
    }

    /** Something in this relay went wrong while delivering to a domain: deferred (4.3.0), never dropped. */
    static List<Verdict> localError(List<String> recipients, Exception e) {
        return all(recipients, r -> new Verdict.Deferred(r, EnhancedStatus.transientFailure(StatusDetail.SYSTEM_OTHER), null,
                "local error while delivering: " + e));
    }

    /** Whether the recipient stays queued for another attempt (until its lifetime is over: then it expires, 4.4.7). */
    static boolean waits(Verdict v) {
        return v instanceof Verdict.Deferred || v instanceof Verdict.Postponed;
    }

    /**
     * The verdict as an outcome to record: a verdict that is not a final word (try the next server, try
     * without TLS), or one of a kind this code does not know, becomes a deferral, so that an unexpected
     * verdict costs a retry and never passes for a delivery.
     */
    static Verdict finalWord(Verdict v) {
        if (v instanceof Verdict.Delivered || v instanceof Verdict.Deferred || v instanceof Verdict.Failed
                || v instanceof Verdict.Postponed || v instanceof Verdict.Deleted) {
            return v;
        }
        EnhancedStatus s = v.status() != null && v.status().statusClass() == StatusClass.PERSISTENT_TRANSIENT_FAILURE
                ? v.status() : EnhancedStatus.transientFailure(StatusDetail.OTHER);
        return new Verdict.Deferred(v.recipient(), s, null, "no final verdict (" + v.getClass().getSimpleName() + ": "
                + v.explanation() + ")");
    }

    private static List<Verdict> all(List<String> recipients, Function<String, Verdict> f) {
        List<Verdict> out = new ArrayList<>(recipients.size());
        recipients.forEach(r -> out.add(f.apply(r)));
        return out;
    }
}
