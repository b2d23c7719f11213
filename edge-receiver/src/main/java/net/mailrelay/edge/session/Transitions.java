package net.mailrelay.edge.session;

import static net.mailrelay.edge.session.SessionState.CONNECTED;
import static net.mailrelay.edge.session.SessionState.IDENTIFIED;
import static net.mailrelay.edge.session.SessionState.MAIL_GIVEN;
import static net.mailrelay.edge.session.SessionState.RCPT_GIVEN;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import net.mailrelay.protocol.smtp.CommandLine.Verb;
import net.mailrelay.protocol.smtp.Reply;

/**
 * The inbound session's transition table, in one place: which commands each state accepts, and the
 * 503 a command gets where it is out of sequence. Every state-by-command pair is decided here; the
 * session never checks order anywhere else.
 */
final class Transitions {

    /** Commands accepted in every state where commands are read at all. */
    private static final Set<Verb> ANYTIME = EnumSet.of(Verb.HELO, Verb.EHLO, Verb.RSET, Verb.NOOP, Verb.QUIT,
            Verb.VRFY, Verb.EXPN, Verb.HELP, Verb.UNKNOWN, Verb.STARTTLS, Verb.AUTH, Verb.BDAT);

    private static final Map<SessionState, Set<Verb>> ALLOWED = new EnumMap<>(SessionState.class);

    static {
        ALLOWED.put(CONNECTED, EnumSet.copyOf(ANYTIME));
        ALLOWED.put(IDENTIFIED, with(Verb.MAIL));
        ALLOWED.put(MAIL_GIVEN, with(Verb.RCPT));
        ALLOWED.put(RCPT_GIVEN, with(Verb.RCPT, Verb.DATA));
    }

    private Transitions() {
    }

    /** Null when the command may be run in this state, else the reply that refuses it. */
    static Reply refusal(SessionState state, Verb verb) {
        Set<Verb> allowed = ALLOWED.get(state);
        if (allowed == null) {
            throw new IllegalStateException("no commands are read in state " + state);
        }
        if (allowed.contains(verb)) {
            return null;
        }
        return switch (verb) {
            case MAIL -> state == CONNECTED ? Replies.SEND_HELO_FIRST : Replies.NESTED_MAIL;
            case RCPT -> state == CONNECTED ? Replies.SEND_HELO_FIRST : Replies.NEED_MAIL;
            case DATA -> state == CONNECTED ? Replies.SEND_HELO_FIRST
                    : state == MAIL_GIVEN ? Replies.NEED_RCPT : Replies.NEED_MAIL;
            default -> throw new IllegalStateException(verb + " missing from the table for " + state);
        };
    }

    private static Set<Verb> with(Verb... more) {
        Set<Verb> s = EnumSet.copyOf(ANYTIME);
        s.addAll(Set.of(more));
        return s;
    }
}
