package net.mailrelay.deploy.manifests;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metric catalog of docs/metrics.md: every {@code mailrelay_*} name in its tables, with its type,
 * plus the prefixes of the Micrometer binders the page lists (jvm_, process_, system_, kafka_).
 */
final class MetricsCatalog {

    /** The library binders' prefixes, as docs/metrics.md names them under "Libraries". */
    static final List<String> BINDER_PREFIXES = List.of("jvm_", "process_", "system_", "kafka_");
    private static final List<String> HISTOGRAM_SUFFIXES = List.of("_bucket", "_count", "_sum");
    private static final Pattern ROW = Pattern.compile("^\\|\\s*`(mailrelay_[a-z0-9_]+)`\\s*\\|\\s*([a-z]+)\\s*\\|", Pattern.MULTILINE);

    private final Map<String, String> types;

    private MetricsCatalog(Map<String, String> types) {
        this.types = types;
    }

    static MetricsCatalog load() {
        Map<String, String> types = new TreeMap<>();
        Matcher m = ROW.matcher(Repository.read(Repository.METRICS_DOC));
        while (m.find()) {
            String before = types.put(m.group(1), m.group(2));
            if (before != null && !before.equals(m.group(2))) {
                throw new AssertionError("docs/metrics.md gives " + m.group(1) + " two types: " + before + ", " + m.group(2));
            }
        }
        if (types.isEmpty()) {
            throw new AssertionError("no mailrelay_* metric found in the tables of " + Repository.METRICS_DOC);
        }
        return new MetricsCatalog(types);
    }

    Map<String, String> types() {
        return types;
    }

    /**
     * The catalog entry a series name belongs to: the name itself, or a histogram's name when the
     * series is one of its {@code _bucket}, {@code _count} or {@code _sum}.
     */
    Optional<String> entryOf(String series) {
        if (types.containsKey(series)) {
            return Optional.of(series);
        }
        for (String suffix : HISTOGRAM_SUFFIXES) {
            if (series.endsWith(suffix)) {
                String base = series.substring(0, series.length() - suffix.length());
                if ("histogram".equals(types.get(base))) {
                    return Optional.of(base);
                }
            }
        }
        return Optional.empty();
    }

    /** Why the series name is not allowed, or empty when it is in the catalog or comes from a binder. */
    Optional<String> problemWith(String series) {
        if (series.startsWith("mailrelay_")) {
            return entryOf(series).isPresent() ? Optional.empty()
                    : Optional.of(series + " is not in docs/metrics.md (histograms: only _bucket, _count and _sum)");
        }
        if (BINDER_PREFIXES.stream().anyMatch(series::startsWith)) {
            return Optional.empty();
        }
        return Optional.of(series + " is neither a mailrelay_ metric of docs/metrics.md nor from a binder (" + BINDER_PREFIXES + ")");
    }
}
