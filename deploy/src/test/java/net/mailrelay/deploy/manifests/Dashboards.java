package net.mailrelay.deploy.manifests;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** The Grafana dashboards of deploy/grafana/dashboards and the PromQL they run. */
final class Dashboards {

    private static final JsonMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /** One query of a dashboard: where it is, for messages, and its PromQL. */
    record Query(String where, String expr) {
    }

    private Dashboards() {
    }

    static List<Path> files() {
        List<Path> files = Repository.files(Repository.DASHBOARDS, ".json");
        if (files.isEmpty()) {
            throw new AssertionError("no dashboard JSON under " + Repository.DASHBOARDS);
        }
        return files;
    }

    static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Every panel, those inside collapsed rows included. */
    static List<JsonNode> panels(JsonNode dashboard) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode p : dashboard.path("panels")) {
            out.add(p);
            p.path("panels").forEach(out::add);
        }
        return out;
    }

    /** The PromQL of every panel target and every query variable. */
    static List<Query> queries(Path file, JsonNode dashboard) {
        String name = file.getFileName().toString();
        List<Query> out = new ArrayList<>();
        for (JsonNode p : panels(dashboard)) {
            for (JsonNode t : p.path("targets")) {
                out.add(new Query(name + " panel " + p.path("id") + " '" + p.path("title").asText() + "' target "
                        + t.path("refId").asText(), t.path("expr").asText("")));
            }
        }
        for (JsonNode v : dashboard.path("templating").path("list")) {
            if (v.path("type").asText().equals("query")) {
                JsonNode q = v.path("query");
                out.add(new Query(name + " variable " + v.path("name").asText(), q.isObject() ? q.path("query").asText("") : q.asText("")));
            }
        }
        return out;
    }

    /** Every metric name read by any dashboard. */
    static Set<String> metricNames() {
        Set<String> names = new TreeSet<>();
        for (Path f : files()) {
            queries(f, read(f)).forEach(q -> names.addAll(PromQl.metricNames(q.expr())));
        }
        return names;
    }
}
