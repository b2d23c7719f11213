package net.mailrelay.deploy.manifests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboards (deploy/grafana/dashboards, loaded by compose and by the Kubernetes
 * ConfigMap) read only metrics the relay documents in docs/metrics.md, or ones its Micrometer binders
 * make; DashboardMetricsIT checks the same names against a running relay's /metrics.
 */
class DashboardTest {

    private final MetricsCatalog catalog = MetricsCatalog.load();

    @Test
    void everyDashboardIsTitledWithUniqueIdsAndAskedForItsDataSource() {
        Set<String> uids = new HashSet<>();
        for (Path f : Dashboards.files()) {
            JsonNode d = Dashboards.read(f);
            assertThat(d.path("title").asText()).as("%s: title", f).isNotBlank();
            assertThat(d.path("uid").asText()).as("%s: uid", f).isNotBlank();
            assertThat(uids.add(d.path("uid").asText())).as("%s: uid %s used by another dashboard", f, d.path("uid")).isTrue();
            List<JsonNode> panels = Dashboards.panels(d);
            assertThat(panels).as("%s: panels", f).isNotEmpty();
            Set<Integer> ids = new HashSet<>();
            for (JsonNode p : panels) {
                assertThat(p.path("id").isInt()).as("%s: panel '%s' has a numeric id", f, p.path("title")).isTrue();
                assertThat(ids.add(p.path("id").asInt())).as("%s: panel id %s is used twice", f, p.path("id")).isTrue();
                assertThat(p.path("title").asText()).as("%s: panel %s title", f, p.path("id")).isNotBlank();
                if (!p.path("type").asText().equals("row")) {
                    // Through the datasource variable, so the dashboard imports into any Grafana.
                    assertThat(p.path("datasource").path("uid").asText()).as("%s: panel %s data source", f, p.path("id"))
                            .isEqualTo("${datasource}");
                    assertThat(p.path("targets")).as("%s: panel %s queries", f, p.path("id")).isNotEmpty();
                }
            }
            assertThat(d.path("templating").path("list").findValuesAsText("name")).as("%s: variables", f).contains("datasource");
        }
    }

    @Test
    void everyQueryReadsOnlyCatalogMetrics() {
        List<String> problems = new ArrayList<>();
        for (Path f : Dashboards.files()) {
            for (Dashboards.Query q : Dashboards.queries(f, Dashboards.read(f))) {
                if (q.expr().isBlank()) {
                    problems.add(q.where() + ": empty query");
                    continue;
                }
                Set<String> names = PromQl.metricNames(q.expr());
                if (names.isEmpty()) {
                    problems.add(q.where() + ": reads no metric: " + q.expr());
                }
                names.forEach(n -> catalog.problemWith(n).ifPresent(p -> problems.add(q.where() + ": " + p)));
                if (q.expr().contains("histogram_quantile")) {
                    names.stream().filter(n -> !n.endsWith("_bucket"))
                            .forEach(n -> problems.add(q.where() + ": histogram_quantile over " + n + ", not a _bucket series"));
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void everyDocumentedRelayMetricIsOnADashboard() {
        Set<String> shown = new TreeSet<>();
        Dashboards.metricNames().forEach(n -> catalog.entryOf(n).ifPresent(shown::add));
        assertThat(catalog.types().keySet()).as("metrics of docs/metrics.md that no dashboard shows")
                .isSubsetOf(shown);
    }

    @Test
    void theExtractorFindsMetricsAndNothingElse() {
        assertThat(PromQl.metricNames("histogram_quantile(0.99, sum by (le, outcome) "
                + "(rate(mailrelay_delivery_attempt_seconds_bucket{role=~\"$role\", instance=~\"$instance\"}[$__rate_interval])))"))
                .containsExactly("mailrelay_delivery_attempt_seconds_bucket");
        assertThat(PromQl.metricNames("topk(10, sum by (failure_class) (increase(mailrelay_delivery_deferrals_total[$__range])))"))
                .containsExactly("mailrelay_delivery_deferrals_total");
        assertThat(PromQl.metricNames("sum(rate(a_total{x=\"y(z)\"}[5m] offset 1h)) by (job) / on (job) group_left b"))
                .containsExactly("a_total", "b");
        assertThat(PromQl.metricNames("min(mailrelay_hazelcast_members) < count(mailrelay_hazelcast_members) and up == 1e3"))
                .containsExactly("mailrelay_hazelcast_members", "up");
        assertThat(PromQl.metricNames("label_values(process_uptime_seconds{role=~\"$role\"}, instance)"))
                .containsExactly("process_uptime_seconds");
        assertThat(PromQl.metricNames("label_values(process_uptime_seconds, role)")).containsExactly("process_uptime_seconds");
        assertThat(PromQl.metricNames("label_values(role)")).isEmpty();
        assertThat(PromQl.metricNames("{__name__=\"jvm_threads_live_threads\", role=\"edge\"}"))
                .containsExactly("jvm_threads_live_threads");
        assertThat(PromQl.metricNames("sum(x_total) without (a) > bool 0.5 unless absent(y)")).containsExactly("x_total", "y");
        assertThatThrownBy(() -> PromQl.metricNames("histogram_quantil(0.5, x_bucket)"))
                .hasMessageContaining("'histogram_quantil' is not a PromQL function");
        assertThatThrownBy(() -> PromQl.metricNames("rate by (x) (y[5m])"))
                .hasMessageContaining("'rate' is not a PromQL aggregation");
    }

    @Test
    void theExtractorFindsTheLabelsAQueryReliesOn() {
        assertThat(PromQl.labelNames("histogram_quantile(0.99, sum by (le, outcome) "
                + "(rate(x_bucket{role=~\"$role\", instance=~\"$instance\"}[$__rate_interval]))) / on(job) group_left y"))
                .containsExactly("instance", "job", "le", "outcome", "role");
        assertThat(PromQl.labelNames("label_values(process_uptime_seconds{role=~\"$role\"}, instance)"))
                .containsExactly("instance", "role");
        assertThat(PromQl.labelNames("sum(x) without (a) + {__name__=\"y\"}")).containsExactly("a");
    }

    @Test
    void theCatalogKnowsHistogramSeries() {
        assertThat(catalog.problemWith("mailrelay_edge_publish_seconds_bucket")).isEmpty();
        assertThat(catalog.problemWith("mailrelay_smtp_connections_total_bucket")).isPresent();
        assertThat(catalog.problemWith("mailrelay_no_such_metric")).isPresent();
        assertThat(catalog.problemWith("jvm_memory_used_bytes")).isEmpty();
        assertThat(catalog.problemWith("up")).isPresent();
    }
}
