package net.mailrelay.deploy.bench;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import net.mailrelay.deploy.cluster.EdgeMemberCost;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * bench edge-member: an edge as a Hazelcast lite member against one that is a data member, on real
 * members in this JVM: the latency of the call it makes per connection, and the share of the ledger it
 * would hold (docs/benchmarks.md, "Edges as lite members").
 */
@Command(name = "edge-member", mixinStandardHelpOptions = true,
        description = "Compare an edge as a Hazelcast lite member and as a data member: per-connection call latency, ledger share.")
public final class EdgeMemberCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--workers", defaultValue = "2", description = "Data members besides the edge (default ${DEFAULT-VALUE}).")
    int workers;
    @Option(names = "--calls", defaultValue = "20000", description = "Timed per-connection calls (default ${DEFAULT-VALUE}).")
    int calls;
    @Option(names = "--ledger-entries", defaultValue = "30000", description = "Delivered marks written (default ${DEFAULT-VALUE}).")
    int entries;
    @Option(names = "--edge", defaultValue = "both", description = "lite, data or both (in that order; default ${DEFAULT-VALUE}). "
            + "Each in a JVM of its own compares best: the first in a JVM pays more of its warm-up.")
    String edge;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        out.println("edge       members  calls  p50_us  p99_us  max_us  ledger_entries  on_edge_owned  on_edge_backups");
        boolean[] kinds = switch (edge) {
            case "lite" -> new boolean[] {true};
            case "data" -> new boolean[] {false};
            case "both" -> new boolean[] {true, false};
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--edge is lite, data or both, not " + edge);
        };
        for (boolean lite : kinds) {
            EdgeMemberCost.Result r = EdgeMemberCost.measure(lite, workers, calls, entries);
            Latencies l = Latencies.of(r.callMicros());
            out.printf("%-10s %7d %6d %7d %7d %7d %15d %14d %16d%n", lite ? "lite" : "data", r.members(), l.count(),
                    l.percentile(50), l.percentile(99), l.max(), r.ledgerEntries(), r.edgeOwned(), r.edgeBackups());
            out.flush();
        }
        return 0;
    }
}
