package net.mailrelay.deploy.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP endpoint every process serves for operators: {@code /metrics} in the Prometheus text format,
 * {@code /health/live} (the process runs) and {@code /health/ready} (its dependencies answer).
 */
public final class OpsServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OpsServer.class);

    private final HttpServer server;
    private final PrometheusMeterRegistry registry;

    /** An admin endpoint: answers a request with a status and a JSON body. */
    public interface AdminHandler {
        /** @return status code and JSON text */
        Map.Entry<Integer, String> handle(String method, Map<String, String> query) throws IOException;
    }

    /**
     * @param registry the process's meters, served on /metrics
     * @param readiness named checks; ready means every one is true
     * @param adminToken the bearer token the admin API requires; empty turns the admin API off
     * @param admin admin endpoints by path below {@code /admin/}
     */
    public OpsServer(InetSocketAddress address, PrometheusMeterRegistry registry, Map<String, BooleanSupplier> readiness,
            String adminToken, Map<String, AdminHandler> admin) throws IOException {
        this.registry = registry;
        server = HttpServer.create(address, 64);
        server.setExecutor(Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "ops-http");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/metrics", x -> respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape()));
        server.createContext("/health/live", x -> respond(x, 200, "text/plain", "live\n"));
        server.createContext("/health/ready", x -> {
            Map<String, Boolean> results = readiness.entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().getAsBoolean()));
            boolean ready = results.values().stream().allMatch(b -> b);
            String body = results.entrySet().stream().map(e -> e.getKey() + ": " + (e.getValue() ? "up" : "down"))
                    .sorted().collect(Collectors.joining("\n", "", "\n"));
            respond(x, ready ? 200 : 503, "text/plain", body);
        });
        if (!adminToken.isEmpty()) {
            admin.forEach((path, handler) -> server.createContext("/admin/" + path, x -> {
                String auth = x.getRequestHeaders().getFirst("Authorization");
                if (auth == null || !java.security.MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8),
                        ("Bearer " + adminToken).getBytes(StandardCharsets.UTF_8))) {
                    respond(x, 401, "application/json", "{\"error\":\"missing or wrong bearer token\"}\n");
                    return;
                }
                try {
                    Map.Entry<Integer, String> r = handler.handle(x.getRequestMethod(), query(x.getRequestURI().getRawQuery()));
                    respond(x, r.getKey(), "application/json", r.getValue());
                } catch (RuntimeException | IOException e) {
                    LOG.warn("admin request {} {} failed: {}", x.getRequestMethod(), x.getRequestURI().getPath(), e.toString());
                    respond(x, 500, "application/json",
                            new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(
                                    Map.of("error", String.valueOf(e.getMessage()))) + "\n");
                }
            }));
        }
        server.start();
        LOG.info("operations HTTP on {} (/metrics, /health/live, /health/ready)", server.getAddress());
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new java.util.HashMap<>();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                String k = java.net.URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                q.put(k, v);
            }
        }
        return q;
    }

    /** A registry for one process: every series tagged with its {@code role}, and the JVM's own meters bound. */
    public static PrometheusMeterRegistry registry(String role) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("role", role);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        return registry;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void respond(HttpExchange x, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        x.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
