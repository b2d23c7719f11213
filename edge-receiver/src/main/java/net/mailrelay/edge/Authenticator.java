package net.mailrelay.edge;

import java.net.InetAddress;
import java.util.concurrent.CompletionStage;
import net.mailrelay.edge.session.AuthOutcome;

/** Checks SMTP AUTH credentials. Never blocks the caller: hashing is slow on purpose. */
public interface Authenticator {

    /** Completes with the outcome; the implementation clears {@code password} when done with it. */
    CompletionStage<AuthOutcome> check(InetAddress client, String user, char[] password);
}
