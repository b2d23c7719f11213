package net.mailrelay.deploy.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cumulative buckets of one Prometheus histogram, summed over all its series (every label set but
 * {@code le}), read from the text exposition format; and quantiles between two scrapes computed as
 * PromQL's histogram_quantile does: find the bucket holding the rank and interpolate linearly in it.
 */
final class PrometheusHistogram {

    private final TreeMap<Double, Double> cumulative; // upper bound -> count, +Inf included
    private final double sum;

    private PrometheusHistogram(TreeMap<Double, Double> cumulative, double sum) {
        this.cumulative = cumulative;
        this.sum = sum;
    }

    static PrometheusHistogram parse(String exposition, String name) {
        TreeMap<Double, Double> buckets = new TreeMap<>();
        double sum = 0;
        for (String line : exposition.split("\n")) {
            if (line.startsWith("#")) {
                continue;
            }
            if (line.startsWith(name + "_bucket{")) {
                int le = line.indexOf(",le=\"");
                if (le < 0) {
                    le = line.indexOf("{le=\""); // not "role=": the label named le
                }
                int close = line.indexOf('"', le + 5);
                String bound = line.substring(le + 5, close);
                double upper = bound.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound);
                buckets.merge(upper, value(line), Double::sum);
            } else if (line.startsWith(name + "_sum{") || line.startsWith(name + "_sum ")) {
                sum += value(line);
            }
        }
        return new PrometheusHistogram(buckets, sum);
    }

    private static double value(String line) {
        // "name{labels} value [timestamp]"; label values may contain spaces ("G1 Eden Space")
        int labels = line.lastIndexOf('}');
        String rest = labels >= 0 ? line.substring(labels + 1) : line.substring(line.indexOf(' ') + 1);
        String[] f = rest.trim().split("\\s+");
        return Double.parseDouble(f[0]);
    }

    /** What was observed after {@code before} was scraped (the difference of two scrapes). */
    PrometheusHistogram minus(PrometheusHistogram before) {
        TreeMap<Double, Double> d = new TreeMap<>();
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            d.put(e.getKey(), e.getValue() - before.cumulative.getOrDefault(e.getKey(), 0.0));
        }
        return new PrometheusHistogram(d, sum - before.sum);
    }

    double count() {
        return cumulative.isEmpty() ? 0 : cumulative.lastEntry().getValue();
    }

    double sum() {
        return sum;
    }

    /** The q-quantile (0..1) in the histogram's unit; NaN without observations. */
    double quantile(double q) {
        double total = count();
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        List<Map.Entry<Double, Double>> entries = new ArrayList<>(cumulative.entrySet());
        for (Map.Entry<Double, Double> e : entries) {
            if (e.getValue() >= rank) {
                if (e.getKey().isInfinite()) {
                    return lowerBound; // as histogram_quantile: the highest finite bound
                }
                double inBucket = e.getValue() - lowerCount;
                return inBucket <= 0 ? e.getKey() : lowerBound + (e.getKey() - lowerBound) * (rank - lowerCount) / inBucket;
            }
            lowerBound = e.getKey();
            lowerCount = e.getValue();
        }
        return lowerBound;
    }
}
