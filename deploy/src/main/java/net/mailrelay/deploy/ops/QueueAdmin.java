package net.mailrelay.deploy.ops;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import net.mailrelay.delivery.attempt.QueueControls;
import net.mailrelay.delivery.cluster.HazelcastQueueControls;
import net.mailrelay.delivery.cluster.HazelcastRetryRequests;
import net.mailrelay.deploy.broker.MessageHistory;
import net.mailrelay.deploy.broker.QueueShape;
import net.mailrelay.protocol.envelope.QueueId;

/**
 * {@code /admin/queue/...}: what Postfix's postqueue, postsuper and qshape and KumoMTA's kcli give, for a
 * queue that lives on Kafka topics (docs/queue.md, "Queue administration").
 *
 * <pre>
 *   GET  summary[?limit=N]     lag, oldest record and waiting recipients per destination (qshape)
 *   GET  message?id=Q          one message's recipients and their latest outcome (postqueue -p)
 *   POST retry?destination=D   retry D's deferred mail now; * for all (postqueue -s D, -f)
 *   POST hold?destination=D    no delivery attempts for D until released (postsuper -h, kcli suspend)
 *   POST release?destination=D release D and retry its mail now (postsuper -H)
 *   GET  holds                 the destinations on hold
 *   POST fail?id=Q             return Q to its sender now (postsuper -f, kcli bounce)
 *   POST delete?id=Q           drop Q without a notice (postsuper -d)
 * </pre>
 */
public final class QueueAdmin {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DEFAULT_SCAN_LIMIT = 100_000;
    private static final int MAX_SCAN_LIMIT = 10_000_000;
    // A recipient domain as workers see it (lower case; U-labels allowed), not an address or a list.
    private static final Pattern DESTINATION = Pattern.compile("[^\\s@/\\\\,;:<>\\[\\]\"*]{1,255}");

    private final QueueShape shape;
    private final MessageHistory history;
    private final HazelcastQueueControls controls;
    private final HazelcastRetryRequests retries;
    private final net.mailrelay.deploy.cluster.DkimReload dkimReload;

    public QueueAdmin(QueueShape shape, MessageHistory history, HazelcastQueueControls controls, HazelcastRetryRequests retries,
            net.mailrelay.deploy.cluster.DkimReload dkimReload) {
        this.dkimReload = dkimReload;
        this.shape = shape;
        this.history = history;
        this.controls = controls;
        this.retries = retries;
    }

    /** The handlers by path below {@code /admin/}. */
    public Map<String, OpsServer.AdminHandler> handlers() {
        Map<String, OpsServer.AdminHandler> h = new LinkedHashMap<>();
        h.put("queue/summary", get(this::summary));
        h.put("queue/message", get(this::message));
        h.put("queue/holds", get(q -> ok(Map.of("holds", controls.holds().entrySet().stream()
                .map(e -> Map.of("destination", e.getKey(), "sinceMillis", e.getValue())).toList()))));
        h.put("queue/retry", post(this::retry));
        h.put("queue/hold", post(this::hold));
        h.put("queue/release", post(this::release));
        h.put("queue/fail", post(q -> order(q, QueueControls.Order.FAIL)));
        h.put("queue/delete", post(q -> order(q, QueueControls.Order.DELETE)));
        h.put("queue/reload-dkim", post(q -> reloadDkim()));
        return h;
    }

    /** One endpoint's work, given the query parameters. */
    private interface Action {
        Map.Entry<Integer, String> apply(Map<String, String> query) throws JsonProcessingException;
    }

    private static OpsServer.AdminHandler get(Action a) {
        return (method, query) -> method.equals("GET") ? a.apply(query) : error(405, "use GET");
    }

    private static OpsServer.AdminHandler post(Action a) {
        return (method, query) -> method.equals("POST") ? a.apply(query) : error(405, "use POST");
    }

    private Map.Entry<Integer, String> summary(Map<String, String> query) throws JsonProcessingException {
        int limit = DEFAULT_SCAN_LIMIT;
        if (query.containsKey("limit")) {
            try {
                limit = Integer.parseInt(query.get("limit"));
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_SCAN_LIMIT) {
                return error(400, "limit must be a whole number from 1 to " + MAX_SCAN_LIMIT);
            }
        }
        return ok(shape.summary(limit));
    }

    private Map.Entry<Integer, String> message(Map<String, String> query) throws JsonProcessingException {
        Optional<QueueId> id = queueId(query);
        if (id.isEmpty()) {
            return badId(query);
        }
        Optional<MessageHistory.MessageStatus> status = history.find(id.get());
        if (status.isEmpty()) {
            return error(404, "no such message: " + id.get());
        }
        Map<String, Object> body = JSON.convertValue(status.get(), JSON.getTypeFactory()
                .constructMapType(LinkedHashMap.class, String.class, Object.class));
        QueueControls.Order order = controls.order(id.get().value());
        body.put("pendingOrder", order == null ? null : order.name());
        return ok(body);
    }

    private Map.Entry<Integer, String> retry(Map<String, String> query) throws JsonProcessingException {
        String d = query.get("destination");
        if (!"*".equals(d) && destination(query).isEmpty()) {
            return badDestination(query, " or * for all");
        }
        String destination = "*".equals(d) ? d : destination(query).get();
        retries.request(destination);
        return Map.entry(202, JSON.writeValueAsString(Map.of("retryRequested", destination)) + "\n");
    }

    private Map.Entry<Integer, String> hold(Map<String, String> query) throws JsonProcessingException {
        Optional<String> d = destination(query);
        if (d.isEmpty()) {
            return badDestination(query, "");
        }
        return ok(Map.of("held", d.get(), "sinceMillis", controls.hold(d.get())));
    }

    private Map.Entry<Integer, String> release(Map<String, String> query) throws JsonProcessingException {
        Optional<String> d = destination(query);
        if (d.isEmpty()) {
            return badDestination(query, "");
        }
        if (!controls.release(d.get())) {
            return error(404, d.get() + " is not on hold");
        }
        return ok(Map.of("released", d.get(), "retryRequested", d.get()));
    }

    /**
     * Fail or delete: the order waits in Hazelcast for the next worker that reads the message, and a
     * retry-now for its destinations makes that happen at once rather than at its next retry.
     */
    private Map.Entry<Integer, String> order(Map<String, String> query, QueueControls.Order order)
            throws JsonProcessingException {
        Optional<QueueId> id = queueId(query);
        if (id.isEmpty()) {
            return badId(query);
        }
        Optional<MessageHistory.MessageStatus> status = history.find(id.get());
        if (status.isEmpty()) {
            return error(404, "no such message: " + id.get());
        }
        List<String> destinations = status.get().recipients().stream()
                .filter(r -> r.outcome().equals("DEFERRED") || r.outcome().equals("QUEUED"))
                .map(r -> r.recipient().substring(r.recipient().lastIndexOf('@') + 1).toLowerCase(Locale.ROOT))
                .distinct().toList();
        if (destinations.isEmpty()) {
            return error(409, id.get() + " is no longer queued: every recipient has a final outcome");
        }
        controls.order(id.get().value(), order);
        destinations.forEach(retries::request);
        return Map.entry(202, JSON.writeValueAsString(Map.of("queueId", id.get().value(), "order", order.name(),
                "retryRequested", destinations)) + "\n");
    }

    private static Optional<QueueId> queueId(Map<String, String> query) {
        String id = query.get("id");
        if (id == null || id.length() != 20 || !id.chars().allMatch(c -> c < 0x80 && Character.isLetterOrDigit(c))) {
            return Optional.empty();
        }
        QueueId q = QueueId.of(id.toUpperCase(Locale.ROOT));
        return q.epochMillis() < 0 ? Optional.empty() : Optional.of(q);
    }

    private static Optional<String> destination(Map<String, String> query) {
        String d = query.get("destination");
        return d == null || !DESTINATION.matcher(d).matches() ? Optional.empty() : Optional.of(d.toLowerCase(Locale.ROOT));
    }

    private static Map.Entry<Integer, String> badId(Map<String, String> query) throws JsonProcessingException {
        return error(400, query.get("id") == null || query.get("id").isBlank() ? "id is required"
                : "id must be a queue id of 20 letters and digits, e.g. 01M8HP0WBHRMBEG60TYC, not '" + query.get("id") + "'");
    }

    private static Map.Entry<Integer, String> badDestination(Map<String, String> query, String orAll)
            throws JsonProcessingException {
        String d = query.get("destination");
        return error(400, d == null || d.isBlank() ? "destination is required"
                : "destination must be a recipient domain" + orAll + ", not '" + d + "'");
    }

    /** Every signing process reads its DKIM keys again; the answer lists each one's outcome. */
    private Map.Entry<Integer, String> reloadDkim() throws JsonProcessingException {
        Map<String, net.mailrelay.deploy.cluster.DkimReload.Answer> answers;
        try {
            answers = dkimReload.request(java.time.Duration.ofSeconds(15));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted");
        } catch (RuntimeException e) {
            return error(503, "the cluster could not be asked: " + e.getMessage());
        }
        List<Map<String, Object>> out = new java.util.ArrayList<>();
        answers.forEach((process, a) -> out.add(Map.of("process", process, "ok", a.ok(), "keys", a.text())));
        // 200 either way: each process's outcome is in the answer, and the command's exit status says it.
        return ok(Map.of("processes", out));
    }

    private static Map.Entry<Integer, String> ok(Object body) throws JsonProcessingException {
        return Map.entry(200, JSON.writeValueAsString(body) + "\n");
    }

    private static Map.Entry<Integer, String> error(int status, String message) throws JsonProcessingException {
        return Map.entry(status, JSON.writeValueAsString(Map.of("error", message)) + "\n");
    }
}
