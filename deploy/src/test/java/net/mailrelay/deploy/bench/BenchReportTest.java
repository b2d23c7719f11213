package net.mailrelay.deploy.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The arithmetic behind the benchmark's figures: percentiles, the CSV join, histogram quantiles, message size. */
class BenchReportTest {

    @TempDir
    Path dir;

    @Test
    void percentilesUseTheNearestRank() {
        Latencies l = Latencies.of(new long[] {50, 10, 40, 20, 30, 60, 70, 80, 90, 100});
        assertThat(l.percentile(50)).isEqualTo(50); // rank ceil(0.5 * 10) = 5
        assertThat(l.percentile(99)).isEqualTo(100); // rank ceil(9.9) = 10
        assertThat(l.percentile(90)).isEqualTo(90);
        assertThat(l.percentile(100)).isEqualTo(100);
        assertThat(l.percentile(0.1)).isEqualTo(10);
        assertThat(l.max()).isEqualTo(100);
        assertThat(l.meanMicros()).isEqualTo(55.0);

        long[] thousand = new long[1000];
        Arrays.setAll(thousand, i -> 1000 - i); // 1..1000, unsorted
        Latencies t = Latencies.of(thousand);
        assertThat(t.percentile(99)).isEqualTo(990);
        assertThat(t.percentile(50)).isEqualTo(500);

        assertThat(Latencies.of(new long[0]).percentile(50)).isEqualTo(-1);
        assertThat(Latencies.of(new long[] {7}).percentile(99)).isEqualTo(7);
        assertThatThrownBy(() -> l.percentile(0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(Latencies.millis(1234)).isEqualTo("1.23");
        assertThat(Latencies.millis(-1)).isEqualTo("-");
    }

    @Test
    void theSendLogRoundTripsAndTheJoinTimesEachMessageOnce() throws Exception {
        Path sent = dir.resolve("sent.csv");
        SendLog.write(sent, 1_000_000, Arrays.asList(
                new SendLog.Sent(0, "r.0", "Q0", 1_100_000, 900, "250"),
                null, // a message never tried (the generator was stopped): skipped
                new SendLog.Sent(2, "r.2", "Q2", 1_200_000, 1500, "250"),
                new SendLog.Sent(3, "r.3", "-", 1_300_000, -1, "dot:451")));
        SendLog.Log log = SendLog.read(sent);
        assertThat(log.startEpochMicros()).isEqualTo(1_000_000);
        assertThat(log.rows()).hasSize(3);
        assertThat(log.rows().get(2).accepted()).isFalse();
        assertThat(LoadCommand.errors(log.rows())).isEqualTo("dot:451:1");

        Path arrivals = dir.resolve("arrivals.csv");
        Files.writeString(arrivals, "other.1,1150000\nr.0,1110000\n-,1120000\nr.2,1", StandardCharsets.US_ASCII);
        EndToEndCommand.Join join = new EndToEndCommand.Join(log);
        EndToEndCommand.ArrivalTail tail = new EndToEndCommand.ArrivalTail(arrivals);
        tail.poll(join);
        assertThat(join.complete()).isFalse(); // "r.2,1" has no newline yet: not read
        Files.writeString(arrivals, "250000\nr.0,1400000\n", StandardCharsets.US_ASCII, java.nio.file.StandardOpenOption.APPEND);
        tail.poll(join);
        assertThat(join.complete()).isTrue();
        Latencies l = join.latencies();
        assertThat(l.count()).isEqualTo(2); // the duplicate r.0 is counted, not timed
        assertThat(l.percentile(50)).isEqualTo(10_000);
        assertThat(l.max()).isEqualTo(50_000);
        // two messages from the start (1.0 s) to the last arrival (1.25 s)
        assertThat(join.deliveredPerSecond()).isCloseTo(8.0, within(1e-9));
        java.io.StringWriter out = new java.io.StringWriter();
        join.print(new java.io.PrintWriter(out));
        assertThat(out.toString()).contains("duplicates=1", "missing=0", "e2e_p99_ms=50.00");
    }

    @Test
    void histogramQuantilesInterpolateAsPromQlDoes() {
        String before = """
                # TYPE d histogram
                d_bucket{role="x",le="0.1"} 0
                d_bucket{role="x",le="0.2"} 0
                d_bucket{role="x",le="+Inf"} 0
                d_sum{role="x"} 0
                """;
        String after = """
                d_bucket{role="x",le="0.1"} 50
                d_bucket{role="x",le="0.2"} 90
                d_bucket{role="x",le="+Inf"} 100
                d_bucket{role="y",le="0.1"} 50
                d_bucket{role="y",le="0.2"} 90
                d_bucket{role="y",le="+Inf"} 100
                d_sum{role="x"} 12.5
                d_sum{role="y"} 12.5
                d_count{role="x"} 100
                """;
        PrometheusHistogram h = PrometheusHistogram.parse(after, "d").minus(PrometheusHistogram.parse(before, "d"));
        assertThat(h.count()).isEqualTo(200);
        assertThat(h.quantile(0.5)).isCloseTo(0.1, within(1e-9)); // rank 100 = the top of the first bucket
        assertThat(h.quantile(0.7)).isCloseTo(0.15, within(1e-9)); // rank 140: halfway through 100..180
        assertThat(h.quantile(0.99)).isCloseTo(0.2, within(1e-9)); // in +Inf: the highest finite bound
        assertThat(h.sum() / h.count()).isCloseTo(0.125, within(1e-9));
        assertThat(PrometheusHistogram.parse(before, "d").quantile(0.5)).isNaN();
    }

    @Test
    void theBodyHasExactlyTheAskedSizeInCrLfLines() {
        for (int size : List.of(2, 3, 79, 80, 81, 82, 1024, 5120, 102400)) {
            byte[] b = BenchMessage.body(size);
            assertThat(b).hasSize(size);
            String s = new String(b, StandardCharsets.US_ASCII);
            assertThat(s).endsWith("\r\n");
            assertThat(s.replace("\r\n", "")).doesNotContain("\r").doesNotContain("\n");
            for (String line : s.split("\r\n")) {
                assertThat(line.length()).isLessThanOrEqualTo(78);
                assertThat(line).doesNotStartWith(".");
            }
        }
        assertThat(LoadCommand.parseSize("5k")).isEqualTo(5120);
        assertThat(LoadCommand.parseSize("100KiB")).isEqualTo(102400);
        assertThat(LoadCommand.parseSize("1024")).isEqualTo(1024);
        assertThat(LoadCommand.queueId("250 2.0.0 Ok: queued as 01M8HP0WBHRMBEG60TYC")).isEqualTo("01M8HP0WBHRMBEG60TYC");
    }

    /** One session is latency-bound: --steps times each step of it against a real SMTP server. */
    @Test
    void theLoadGeneratorTimesEachStepOfASession() throws Exception {
        try (net.mailrelay.testing.FakeMx mx = new net.mailrelay.testing.FakeMx("mx.test")) {
            mx.start();
            java.io.StringWriter out = new java.io.StringWriter();
            int rc = new picocli.CommandLine(new LoadCommand()).setOut(new java.io.PrintWriter(out))
                    .execute("--server", mx.hostPort(), "-m", "5", "-l", "1k", "--steps", "-t", "someone@mx.test");
            assertThat(rc).isZero();
            assertThat(out.toString()).contains("accepted=5");
            for (String step : LoadCommand.STEPS) {
                assertThat(out.toString()).containsPattern("step_" + step + "_p50_ms=\\d+\\.\\d+")
                        .containsPattern("step_" + step + "_p99_ms=");
            }
            assertThat(mx.deliveriesTo("someone@mx.test")).hasSize(5);
        }
    }
}
