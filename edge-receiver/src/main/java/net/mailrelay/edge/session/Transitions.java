package net.mailrelay.edge.session;

import static net.mailrelay.edge.session.SessionState.CHUNKING;
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
            Verb.VRFY, Verb.EXPN, Verb.HELP, Verb.UNKNOWN);

    private static final Map<SessionState, Set<Verb>> ALLOWED = new EnumMap<>(SessionState.class);

    static {
        ALLOWED.put(CONNECTED, with(Verb.STARTTLS));
        ALLOWED.put(IDENTIFIED, with(Verb.MAIL, Verb.STARTTLS, Verb.AUTH));
        ALLOWED.put(MAIL_GIVEN, with(Verb.RCPT));
        ALLOWED.put(RCPT_GIVEN, with(Verb.RCPT, Verb.DATA, Verb.BDAT));
        ALLOWED.put(CHUNKING, with(Verb.BDAT));
    }

    private Transitions() {
    }

    static boolean readsCommands(SessionState state) {
        return ALLOWED.containsKey(state);
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
        if (state == CONNECTED) {
            return Replies.SEND_HELO_FIRST;
        }
        boolean inTransaction = state == MAIL_GIVEN || state == RCPT_GIVEN || state == CHUNKING;
        return switch (verb) {
            case MAIL -> Replies.NESTED_MAIL;
            case RCPT -> state == CHUNKING ? Replies.BDAT_IN_PROGRESS : Replies.NEED_MAIL;
            case DATA -> state == CHUNKING ? Replies.BDAT_IN_PROGRESS : state == MAIL_GIVEN ? Replies.NEED_RCPT : Replies.NEED_MAIL;
            case BDAT -> state == MAIL_GIVEN ? Replies.NEED_RCPT : Replies.NEED_MAIL;
            case STARTTLS, AUTH -> inTransaction ? Replies.TX_IN_PROGRESS : Replies.SEND_HELO_FIRST;
            default -> throw new IllegalStateException(verb + " missing from the table for " + state);
        };
    }

    private static Set<Verb> with(Verb... more) {
        Set<Verb> s = EnumSet.copyOf(ANYTIME);
        s.addAll(Set.of(more));
        return s;
    }
}
