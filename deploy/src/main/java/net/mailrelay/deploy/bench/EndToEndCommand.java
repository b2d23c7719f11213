package net.mailrelay.deploy.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * bench e2e: joins a loadgen CSV with the sink's arrivals by marker. Waits until every accepted message
 * has arrived (or the timeout), then prints the end-to-end latency (final dot sent to final dot received
 * at the sink) and the delivered rate (accepted messages over the time from the load's start to the
 * last arrival). A marker that arrives twice is a duplicate delivery and is counted, not timed twice.
 */
@Command(name = "e2e", mixinStandardHelpOptions = true,
        description = "End-to-end latency and delivered rate from a loadgen CSV and the sink's arrivals.")
public final class EndToEndCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--sent", required = true, paramLabel = "FILE", description = "CSV written by bench loadgen --csv.")
    Path sent;
    @Option(names = "--arrivals", required = true, paramLabel = "FILE", description = "CSV written by bench sink --arrivals.")
    Path arrivals;
    @Option(names = "--timeout", defaultValue = "300", paramLabel = "SECONDS", description = "Longest wait for the last arrival.")
    int timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        SendLog.Log log = SendLog.read(sent);
        Join join = new Join(log);
        ArrivalTail tail = new ArrivalTail(arrivals);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (true) {
            tail.poll(join);
            if (join.complete() || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(100);
        }
        join.print(spec.commandLine().getOut());
        return 0;
    }

    /** Sent messages matched with their arrivals. */
    static final class Join {
        private final long startEpochMicros;
        private final Map<String, Long> dotByMarker = new HashMap<>();
        private final Map<String, Long> arrivalByMarker = new HashMap<>();
        private int duplicates;
        private long lastArrival = -1;

        Join(SendLog.Log log) {
            this.startEpochMicros = log.startEpochMicros();
            for (SendLog.Sent s : log.rows()) {
                if (s.accepted()) {
                    dotByMarker.put(s.marker(), s.dotEpochMicros());
                }
            }
        }

        void arrived(String marker, long epochMicros) {
            if (!dotByMarker.containsKey(marker)) {
                return; // another run's message, or a DSN
            }
            if (arrivalByMarker.putIfAbsent(marker, epochMicros) != null) {
                duplicates++;
            } else {
                lastArrival = Math.max(lastArrival, epochMicros);
            }
        }

        boolean complete() {
            return arrivalByMarker.size() == dotByMarker.size();
        }

        Latencies latencies() {
            return Latencies.of(arrivalByMarker.entrySet().stream()
                    .mapToLong(e -> e.getValue() - dotByMarker.get(e.getKey())).toArray());
        }

        /** Accepted messages per second from the start of the load to the last arrival; -1 if some never came. */
        double deliveredPerSecond() {
            if (!complete() || arrivalByMarker.isEmpty()) {
                return -1;
            }
            return arrivalByMarker.size() / ((lastArrival - startEpochMicros) / 1e6);
        }

        void print(PrintWriter out) {
            Latencies l = latencies();
            out.println("accepted=" + dotByMarker.size());
            out.println("arrived=" + arrivalByMarker.size());
            out.println("missing=" + (dotByMarker.size() - arrivalByMarker.size()));
            out.println("duplicates=" + duplicates);
            out.println("delivered_per_s=" + (deliveredPerSecond() < 0 ? "-" : String.format(Locale.ROOT, "%.1f", deliveredPerSecond())));
            out.println("e2e_p50_ms=" + Latencies.millis(l.percentile(50)));
            out.println("e2e_p99_ms=" + Latencies.millis(l.percentile(99)));
            out.println("e2e_max_ms=" + Latencies.millis(l.max()));
            out.println("e2e_mean_ms=" + Latencies.millis(l.meanMicros()));
            out.flush();
        }
    }

    /** Reads the complete lines appended to the arrivals file since the last poll. */
    static final class ArrivalTail {
        private final Path file;
        private long offset;
        private final StringBuilder partial = new StringBuilder();

        ArrivalTail(Path file) {
            this.file = file;
        }

        void poll(Join join) throws IOException {
            if (!file.toFile().exists()) {
                return;
            }
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
                long length = f.length();
                if (length <= offset) {
                    return;
                }
                byte[] b = new byte[(int) Math.min(length - offset, 64L << 20)];
                f.seek(offset);
                f.readFully(b);
                offset += b.length;
                partial.append(new String(b, StandardCharsets.US_ASCII));
            }
            int from = 0;
            int nl;
            while ((nl = partial.indexOf("\n", from)) >= 0) {
                String line = partial.substring(from, nl);
                from = nl + 1;
                int comma = line.lastIndexOf(',');
                if (comma > 0) {
                    join.arrived(line.substring(0, comma), Long.parseLong(line.substring(comma + 1).trim()));
                }
            }
            partial.delete(0, from);
        }
    }
}
