package net.mailrelay.deploy.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.mailrelay.deploy.broker.SuppressionTopic;

/**
 * {@code /admin/suppression}: GET lists the suppressed addresses; DELETE {@code ?address=x} takes one off;
 * POST {@code ?address=x&reason=...} adds one.
 */
public final class SuppressionAdmin implements OpsServer.AdminHandler {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final SuppressionTopic topic;
    private final Duration ttl;

    public SuppressionAdmin(SuppressionTopic topic, Duration ttl) {
        this.topic = topic;
        this.ttl = ttl;
    }

    @Override
    public Map.Entry<Integer, String> handle(String method, Map<String, String> query) throws java.io.IOException {
        String address = query.get("address");
        switch (method) {
            case "GET" -> {
                return Map.entry(200, JSON.writeValueAsString(Map.of("entries", topic.list())) + "\n");
            }
            case "DELETE" -> {
                if (address == null || address.isBlank()) {
                    return Map.entry(400, "{\"error\":\"address is required\"}\n");
                }
                topic.remove(List.of(address));
                return Map.entry(200, JSON.writeValueAsString(Map.of("removed", address)) + "\n");
            }
            case "POST" -> {
                if (address == null || address.isBlank()) {
                    return Map.entry(400, "{\"error\":\"address is required\"}\n");
                }
                topic.add(address, query.getOrDefault("reason", "added by an operator"), ttl);
                return Map.entry(200, JSON.writeValueAsString(Map.of("added", address)) + "\n");
            }
            default -> {
                return Map.entry(405, "{\"error\":\"use GET, POST or DELETE\"}\n");
            }
        }
    }
}
