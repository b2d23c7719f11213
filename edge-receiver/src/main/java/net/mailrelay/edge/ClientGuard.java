package net.mailrelay.edge;

import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Per-client counters shared by every edge of the cluster (Postfix's anvil, but cluster-wide): the
 * connection rate and authentication failures of each client address. Soft state: when it cannot
 * answer, clients are let in rather than turned away.
 */
public interface ClientGuard {

    /** Counts a new connection; completes with false when the client is over its rate. */
    CompletionStage<Boolean> connectionAllowed(InetAddress client);

    /** Completes with true when the client has failed to authenticate too often lately. */
    CompletionStage<Boolean> authBlocked(InetAddress client);

    /** Counts a failed authentication. */
    void authFailed(InetAddress client);

    /** No limits at all: for a process without a cluster, and for tests of other things. */
    ClientGuard NONE = new ClientGuard() {
        @Override
        public CompletionStage<Boolean> connectionAllowed(InetAddress client) {
            return CompletableFuture.completedFuture(true);
        }

        @Override
        public CompletionStage<Boolean> authBlocked(InetAddress client) {
            return CompletableFuture.completedFuture(false);
        }

        @Override
        public void authFailed(InetAddress client) {
            // nothing is counted
        }
    };
}
