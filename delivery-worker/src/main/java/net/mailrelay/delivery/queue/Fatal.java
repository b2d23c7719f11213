package net.mailrelay.delivery.queue;

import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker does when a delivery thread dies of an {@link Error} (OutOfMemoryError,
 * StackOverflowError). The job's offset would stay unfinished and its in-flight slot taken; enough of
 * them pause every partition, a stall that nothing reports. Postfix's master restarts an agent that
 * died; here the process exits (status 70, EX_SOFTWARE), after a clear log line and a metric, and its
 * supervisor (Kubernetes, systemd, compose's restart policy) starts it again. Its records were never
 * committed, so they are read again: at-least-once, as after any crash.
 */
@FunctionalInterface
public interface Fatal {

    /** The exit status: EX_SOFTWARE, an internal software error (sysexits.h). */
    int STATUS = 70;

    /** @param job what the thread was doing, with its queue id */
    void died(String job, Error error);

    /** Exits the process: a normal stop (in-flight deliveries finish) within 45 s, else a halt. */
    Fatal EXIT = (job, error) -> {
        Logger log = LoggerFactory.getLogger(Fatal.class);
        log.error("{}: a delivery thread died of {}; the worker exits (status {}) to be restarted, as Postfix's master "
                + "restarts a dead agent: its uncommitted records are read again", job, error.toString(), STATUS, error);
        Thread exit = new Thread(() -> System.exit(STATUS), "fatal-exit");
        Thread halt = new Thread(() -> {
            try {
                Thread.sleep(Duration.ofSeconds(45).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Runtime.getRuntime().halt(STATUS);
        }, "fatal-halt");
        halt.setDaemon(true);
        halt.start();
        exit.start();
    };
}
