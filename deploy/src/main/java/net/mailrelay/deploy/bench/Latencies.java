package net.mailrelay.deploy.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * A set of latencies in microseconds and its percentiles, by the nearest-rank method: the p-th
 * percentile of n sorted values is the value at rank ceil(p/100 * n) (1-based), so it is always a
 * value that was measured, p100 is the maximum and p50 of an even count is the lower middle value.
 */
public final class Latencies {

    private final long[] sorted;

    private Latencies(long[] sorted) {
        this.sorted = sorted;
    }

    public static Latencies of(long[] micros) {
        long[] copy = micros.clone();
        Arrays.sort(copy);
        return new Latencies(copy);
    }

    public int count() {
        return sorted.length;
    }

    /** The p-th percentile (0 < p <= 100) in microseconds; -1 when there are no values. */
    public long percentile(double p) {
        if (!(p > 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], not " + p);
        }
        if (sorted.length == 0) {
            return -1;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    public long max() {
        return sorted.length == 0 ? -1 : sorted[sorted.length - 1];
    }

    public double meanMicros() {
        if (sorted.length == 0) {
            return -1;
        }
        double sum = 0;
        for (long v : sorted) {
            sum += v;
        }
        return sum / sorted.length;
    }

    /** Microseconds as milliseconds with two decimals ("-" for none), the unit of every report. */
    public static String millis(double micros) {
        return micros < 0 ? "-" : String.format(Locale.ROOT, "%.2f", micros / 1000.0);
    }
}
