package net.mailrelay.deploy.bench;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * bench histogram: p50 and p99 of a histogram (in seconds, printed in ms) over what happened between two
 * saved scrapes of /metrics, e.g. the relay's own mailrelay_delivery_delay_seconds for one scenario.
 * Bucket interpolation makes these coarser than loadgen's per-message figures.
 */
@Command(name = "histogram", mixinStandardHelpOptions = true,
        description = "Quantiles of a Prometheus histogram between two scrapes of /metrics.")
public final class HistogramCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--before", required = true, paramLabel = "FILE", description = "First scrape.")
    Path before;
    @Option(names = "--after", required = true, paramLabel = "FILE", description = "Second scrape.")
    Path after;
    @Option(names = "--metric", required = true, description = "Histogram name without _bucket.")
    String metric;
    @Option(names = "--prefix", defaultValue = "", description = "Prefix of the printed keys.")
    String prefix;

    @Override
    public Integer call() throws Exception {
        PrometheusHistogram h = PrometheusHistogram.parse(Files.readString(after), metric)
                .minus(PrometheusHistogram.parse(Files.readString(before), metric));
        PrintWriter out = spec.commandLine().getOut();
        out.println(prefix + "count=" + (long) h.count());
        out.println(prefix + "p50_ms=" + ms(h.quantile(0.50)));
        out.println(prefix + "p99_ms=" + ms(h.quantile(0.99)));
        out.println(prefix + "mean_ms=" + (h.count() > 0 ? ms(h.sum() / h.count()) : "-"));
        out.flush();
        return 0;
    }

    private static String ms(double seconds) {
        return Double.isNaN(seconds) ? "-" : String.format(Locale.ROOT, "%.2f", seconds * 1000);
    }
}
