package net.mailrelay.delivery.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/**
 * Jobs that failed and wait to run again: the first after a second, each later one after twice as long,
 * up to {@code max}, with a tenth of jitter so that the jobs of one outage do not all come back at
 * once. A job waits here, not on a thread, and is never tried in a tight loop. Used by the poll thread.
 */
final class Backoffs {

    private static final long FIRST_MILLIS = 1_000;

    private record Waiting(RecordJob job, long dueMillis) {
    }

    private final long maxMillis;
    private final List<Waiting> waiting = new ArrayList<>();

    Backoffs(Duration max) {
        this.maxMillis = Math.max(FIRST_MILLIS, max.toMillis());
    }

    /** Puts the job aside; returns when it runs again. */
    long add(RecordJob job, long now) {
        long delay = FIRST_MILLIS;
        for (int i = 1; i < job.failures() && delay < maxMillis; i++) {
            delay *= 2;
        }
        delay = Math.min(delay, maxMillis);
        delay += ThreadLocalRandom.current().nextLong(-delay / 10, delay / 10 + 1);
        long due = now + delay;
        waiting.add(new Waiting(job, due));
        return due;
    }

    /** Takes out the jobs due by {@code now}. */
    List<RecordJob> due(long now) {
        List<RecordJob> out = new ArrayList<>();
        for (Iterator<Waiting> it = waiting.iterator(); it.hasNext(); ) {
            Waiting w = it.next();
            if (w.dueMillis() <= now) {
                out.add(w.job());
                it.remove();
            }
        }
        return out;
    }

    /** Takes out the jobs that match (those of a revoked partition, or all at close). */
    List<RecordJob> remove(Predicate<RecordJob> which) {
        List<RecordJob> out = new ArrayList<>();
        for (Iterator<Waiting> it = waiting.iterator(); it.hasNext(); ) {
            Waiting w = it.next();
            if (which.test(w.job())) {
                out.add(w.job());
                it.remove();
            }
        }
        return out;
    }

    int size() {
        return waiting.size();
    }
}
