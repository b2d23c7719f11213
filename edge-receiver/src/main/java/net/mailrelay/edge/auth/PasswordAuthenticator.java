package net.mailrelay.edge.auth;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import net.mailrelay.edge.Authenticator;
import net.mailrelay.edge.ClientGuard;
import net.mailrelay.edge.session.AuthOutcome;

/**
 * Checks AUTH credentials against the users file, on a small pool of its own threads because bcrypt is
 * slow on purpose, and asks the cluster first whether this client has failed too often (brute force is
 * throttled across every edge, not per process).
 */
public final class PasswordAuthenticator implements Authenticator, AutoCloseable {

    private final CredentialStore store;
    private final ClientGuard guard;
    private final ExecutorService hashing;

    public PasswordAuthenticator(CredentialStore store, ClientGuard guard, int threads) {
        this.store = store;
        this.guard = guard;
        AtomicInteger n = new AtomicInteger();
        this.hashing = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "auth-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public CompletionStage<AuthOutcome> check(InetAddress client, String user, char[] password) {
        return guard.authBlocked(client).thenCompose(blocked -> {
            if (blocked) {
                Arrays.fill(password, '\0');
                return CompletableFuture.completedFuture(AuthOutcome.THROTTLED);
            }
            try {
                return CompletableFuture.supplyAsync(() -> {
                    try {
                        boolean ok = store.verify(user, password);
                        if (!ok) {
                            guard.authFailed(client);
                        }
                        return ok ? AuthOutcome.ACCEPTED : AuthOutcome.REJECTED;
                    } finally {
                        Arrays.fill(password, '\0');
                    }
                }, hashing);
            } catch (RejectedExecutionException e) {
                Arrays.fill(password, '\0');
                return CompletableFuture.completedFuture(AuthOutcome.UNAVAILABLE);
            }
        });
    }

    @Override
    public void close() {
        hashing.shutdown();
        try {
            hashing.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
