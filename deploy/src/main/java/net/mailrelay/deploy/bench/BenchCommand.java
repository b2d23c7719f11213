package net.mailrelay.deploy.bench;

import picocli.CommandLine.Command;

/**
 * mail-relay.jar bench: the tools deploy/bench/run drives, for measuring a relay (this one or Postfix)
 * on one machine. Not part of the relay itself: none of them touches Kafka or Hazelcast, they speak
 * SMTP over loopback sockets and read files.
 *
 * <ul>
 *   <li>{@code loadgen}: the load generator (as Postfix's smtp-source: N sessions, M messages, size S,
 *       a new connection per message or {@code --reuse}), timing each end of DATA to its reply;</li>
 *   <li>{@code sink}: a receiving MX (as smtp-sink) that notes when each benchmark message arrived;</li>
 *   <li>{@code e2e}: joins the two into end-to-end latency and the delivered rate;</li>
 *   <li>{@code idle}: holds many idle SMTP sessions open and checks that a new client still gets 220;</li>
 *   <li>{@code histogram}: quantiles of a Prometheus histogram between two scrapes of /metrics;</li>
 *   <li>{@code hotspots}: the hottest methods and threads of a JFR recording.</li>
 * </ul>
 * Security: the sink accepts any mail on the address it is given and throws it away; bind it to loopback.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark tools (load generator, sink, idle connections, report helpers); see deploy/bench/run and docs/benchmarks.md.",
        subcommands = {LoadCommand.class, SinkCommand.class, EndToEndCommand.class, IdleCommand.class, HistogramCommand.class,
                HotspotsCommand.class, EdgeMemberCommand.class})
public final class BenchCommand {
}
