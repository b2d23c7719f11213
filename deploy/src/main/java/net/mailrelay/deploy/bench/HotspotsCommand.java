package net.mailrelay.deploy.bench;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * bench hotspots: where a JFR recording's CPU samples (jdk.ExecutionSample: threads running Java code)
 * fall, as Markdown tables: by top frame (self time), by the first frame in the relay's own code
 * (net.mailrelay.*), by the top frame's package and by thread (names with digits folded, so
 * "kafka-producer-network-thread | producer-3" and "-7" count together); and the GC pauses.
 */
@Command(name = "hotspots", mixinStandardHelpOptions = true,
        description = "Top methods, packages and threads of a JFR recording's execution samples (Markdown).")
public final class HotspotsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Parameters(paramLabel = "FILE.jfr")
    Path recording;
    @Option(names = "--top", defaultValue = "15", description = "Rows per table (default ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() throws Exception {
        Map<String, Integer> selfMethod = new HashMap<>();
        Map<String, Integer> relayFrame = new HashMap<>();
        Map<String, Integer> pkg = new HashMap<>();
        Map<String, Integer> thread = new HashMap<>();
        Map<String, Double> threadCpu = new HashMap<>();
        int samples = 0;
        int gcs = 0;
        double gcPauseMillis = 0;
        double jvmCpu = 0;
        double machineCpu = 0;
        int cpuLoads = 0;
        try (RecordingFile file = new RecordingFile(recording)) {
            while (file.hasMoreEvents()) {
                RecordedEvent e = file.readEvent();
                String type = e.getEventType().getName();
                if (type.equals("jdk.GarbageCollection")) {
                    gcs++;
                    gcPauseMillis += e.getDuration("sumOfPauses").toNanos() / 1e6;
                    continue;
                }
                if (type.equals("jdk.CPULoad")) {
                    cpuLoads++;
                    jvmCpu += e.getFloat("jvmUser") + e.getFloat("jvmSystem");
                    machineCpu += e.getFloat("machineTotal");
                    continue;
                }
                if (type.equals("jdk.ThreadCPULoad")) {
                    RecordedThread t = e.getThread();
                    String name = t == null ? "?" : t.getJavaName() != null ? t.getJavaName() : t.getOSName();
                    threadCpu.merge(threadGroup(name), (double) e.getFloat("user") + e.getFloat("system"), Double::sum);
                    continue;
                }
                if (!type.equals("jdk.ExecutionSample")) {
                    continue;
                }
                RecordedStackTrace st = e.getStackTrace();
                if (st == null || st.getFrames().isEmpty()) {
                    continue;
                }
                samples++;
                List<RecordedFrame> frames = st.getFrames();
                String topFrame = method(frames.get(0));
                selfMethod.merge(topFrame, 1, Integer::sum);
                pkg.merge(packageOf(frames.get(0).getMethod().getType().getName()), 1, Integer::sum);
                String relay = "(no net.mailrelay frame)";
                for (RecordedFrame f : frames) {
                    if (f.getMethod().getType().getName().startsWith("net.mailrelay.")) {
                        relay = method(f);
                        break;
                    }
                }
                relayFrame.merge(relay, 1, Integer::sum);
                RecordedThread t = e.getThread("sampledThread");
                thread.merge(t == null ? "?" : threadGroup(t.getJavaName() != null ? t.getJavaName() : t.getOSName()), 1, Integer::sum);
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("Execution samples: " + samples + "; garbage collections: " + gcs + ", pauses "
                + String.format(Locale.ROOT, "%.0f", gcPauseMillis) + " ms in total"
                + (cpuLoads == 0 ? "" : String.format(Locale.ROOT, "; CPU (jdk.CPULoad, mean of %d samples): this JVM %.0f%%, whole machine %.0f%%",
                        cpuLoads, 100 * jvmCpu / cpuLoads, 100 * machineCpu / cpuLoads)));
        table(out, "Top frames (self time)", "method", selfMethod, samples);
        table(out, "By package of the top frame", "package", pkg, samples);
        table(out, "By thread", "thread", thread, samples);
        if (!threadCpu.isEmpty()) {
            // jdk.ThreadCPULoad counts time in native code and the kernel too (fsync, socket writes),
            // which execution samples miss
            double total = threadCpu.values().stream().mapToDouble(Double::doubleValue).sum();
            out.println();
            out.println("**CPU by thread, user + system (jdk.ThreadCPULoad: Java threads, native and kernel time included; not GC or JIT)**");
            out.println();
            out.println("| thread | share |");
            out.println("|---|---:|");
            threadCpu.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed()).limit(top)
                    .forEach(e -> out.println("| `" + e.getKey() + "` | " + String.format(Locale.ROOT, "%.1f%%", 100 * e.getValue() / total) + " |"));
        }
        table(out, "By first net.mailrelay frame on the stack", "relay method", relayFrame, samples);
        out.flush();
        return 0;
    }

    private void table(PrintWriter out, String title, String what, Map<String, Integer> counts, int total) {
        out.println();
        out.println("**" + title + "**");
        out.println();
        out.println("| " + what + " | samples | share |");
        out.println("|---|---:|---:|");
        counts.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(top)
                .forEach(e -> out.println("| `" + e.getKey() + "` | " + e.getValue() + " | "
                        + String.format(Locale.ROOT, "%.1f%%", 100.0 * e.getValue() / Math.max(total, 1)) + " |"));
    }

    private static String method(RecordedFrame f) {
        String type = f.getMethod().getType().getName();
        return type.substring(type.lastIndexOf('.') + 1) + "." + f.getMethod().getName();
    }

    /** The first three parts of a class's package: {@code org.apache.kafka}, {@code io.netty.buffer}. */
    static String packageOf(String className) {
        String[] parts = className.split("\\.");
        int n = Math.min(3, parts.length - 1);
        return n <= 0 ? "(default)" : String.join(".", java.util.Arrays.copyOf(parts, n));
    }

    /** A thread name with its numbers folded: "data-plane-kafka-request-handler-3" -> "data-plane-kafka-request-handler-#". */
    static String threadGroup(String name) {
        return name.replaceAll("[0-9]+", "#");
    }
}
