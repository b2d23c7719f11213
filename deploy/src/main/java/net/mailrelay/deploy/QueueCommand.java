package net.mailrelay.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mail-relay.jar queue ...}: the operator's queue commands (Postfix's postqueue, postsuper and
 * qshape; KumoMTA's kcli). Like kcli it talks to a running process's admin API over HTTP, so it needs
 * only the URL of a worker (or standalone) and the admin token, not Kafka or Hazelcast access.
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "Shows and manages the mail queue through a worker's admin API (postqueue, postsuper, qshape).",
        subcommands = {QueueCommand.Summary.class, QueueCommand.Show.class, QueueCommand.Retry.class, QueueCommand.Hold.class,
                QueueCommand.Release.class, QueueCommand.Holds.class, QueueCommand.Fail.class, QueueCommand.Delete.class,
                QueueCommand.ReloadDkim.class})
public final class QueueCommand {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where the admin API is and how to talk to it. */
    static final class Api {
        @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:MAILRELAY_ADMIN_URL:-http://127.0.0.1:8080}",
                description = "HTTP listener of a worker or standalone process (default ${DEFAULT-VALUE}; "
                        + "env MAILRELAY_ADMIN_URL; standalone listens on 127.0.0.1:8025).")
        String url;
        @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:MAILRELAY_ADMIN_TOKEN}",
                description = "The admin.token of that process (default: env MAILRELAY_ADMIN_TOKEN).")
        String token;
        @Option(names = "--json", description = "Print the API's JSON answer instead of a table.")
        boolean json;
    }

    /** An answer other than 2xx, or no answer: the message says which. */
    static final class ApiException extends Exception {
        private static final long serialVersionUID = 1L;

        ApiException(String message) {
            super(message);
        }
    }

    /** One subcommand: a request, then the answer printed as a table or as JSON. */
    abstract static class Request implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        Api api;

        abstract String method();

        /** The path below /admin/queue/ with its query string. */
        abstract String path();

        abstract String render(JsonNode answer);

        /** The exit status for an answer the API gave with 2xx: 0 unless the command says otherwise. */
        int exitStatus(JsonNode answer) {
            return 0;
        }

        @Override
        public Integer call() {
            try {
                JsonNode answer = send();
                spec.commandLine().getOut().print(api.json ? answer.toPrettyString() + "\n" : render(answer));
                spec.commandLine().getOut().flush();
                return exitStatus(answer);
            } catch (ApiException e) {
                spec.commandLine().getErr().println("mail-relay queue " + spec.name() + ": " + e.getMessage());
                return 1;
            }
        }

        private JsonNode send() throws ApiException {
            if (api.token == null || api.token.isBlank()) {
                throw new ApiException("no admin token: pass --token or set MAILRELAY_ADMIN_TOKEN");
            }
            String base = api.url.endsWith("/") ? api.url.substring(0, api.url.length() - 1) : api.url;
            URI uri;
            try {
                uri = URI.create(base + "/admin/queue/" + path());
            } catch (IllegalArgumentException e) {
                throw new ApiException("not a URL: " + api.url);
            }
            // The summary may read up to a minute of records; allow for it.
            HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(120))
                    .header("Authorization", "Bearer " + api.token)
                    .method(method(), HttpRequest.BodyPublishers.noBody()).build();
            HttpResponse<String> response;
            try {
                response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()
                        .send(request, HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                // The JDK's ConnectException often has no message; say what it means.
                String why = e instanceof java.net.ConnectException ? "connection refused"
                        : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
                throw new ApiException("cannot reach " + base + ": " + why);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiException("interrupted");
            }
            JsonNode body;
            try {
                body = JSON.readTree(response.body());
            } catch (IOException e) {
                body = null;
            }
            if (response.statusCode() / 100 != 2) {
                String why = body != null && body.hasNonNull("error") ? body.get("error").asText() : response.body().strip();
                throw new ApiException("HTTP " + response.statusCode() + ": " + why);
            }
            if (body == null) {
                throw new ApiException("the answer from " + uri + " is not JSON");
            }
            return body;
        }

        static String q(String value) {
            return URLEncoder.encode(value, StandardCharsets.UTF_8);
        }
    }

    @Command(name = "summary", mixinStandardHelpOptions = true,
            description = "Lag, oldest record and waiting recipients per destination and age, per topic (qshape).")
    static final class Summary extends Request {
        @Option(names = "--limit", paramLabel = "N", description = "Records to read at most (default 100000).")
        Integer limit;

        @Override
        String method() {
            return "GET";
        }

        @Override
        String path() {
            return "summary" + (limit == null ? "" : "?limit=" + limit);
        }

        @Override
        String render(JsonNode a) {
            return QueueTables.summary(a);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One message and its recipients (postqueue -p).")
    static final class Show extends Request {
        @Parameters(paramLabel = "QUEUE_ID")
        String id;

        @Override
        String method() {
            return "GET";
        }

        @Override
        String path() {
            return "message?id=" + q(id);
        }

        @Override
        String render(JsonNode a) {
            return QueueTables.message(a);
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Retries a destination's deferred mail now; * for all (postqueue -s, -f).")
    static final class Retry extends Request {
        @Parameters(paramLabel = "DESTINATION")
        String destination;

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "retry?destination=" + q(destination);
        }

        @Override
        String render(JsonNode a) {
            return "retrying deferred mail for " + a.path("retryRequested").asText() + " now\n";
        }
    }

    @Command(name = "hold", mixinStandardHelpOptions = true,
            description = "Stops delivery attempts to a destination until it is released (postsuper -h; kcli suspend).")
    static final class Hold extends Request {
        @Parameters(paramLabel = "DESTINATION")
        String destination;

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "hold?destination=" + q(destination);
        }

        @Override
        String render(JsonNode a) {
            return a.path("held").asText() + ": on hold since " + QueueTables.time(a.path("sinceMillis").asLong()) + "\n";
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true,
            description = "Releases a held destination and retries its mail now (postsuper -H).")
    static final class Release extends Request {
        @Parameters(paramLabel = "DESTINATION")
        String destination;

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "release?destination=" + q(destination);
        }

        @Override
        String render(JsonNode a) {
            return a.path("released").asText() + ": released from hold; its mail is being retried now\n";
        }
    }

    @Command(name = "holds", mixinStandardHelpOptions = true, description = "Lists the destinations on hold.")
    static final class Holds extends Request {
        @Override
        String method() {
            return "GET";
        }

        @Override
        String path() {
            return "holds";
        }

        @Override
        String render(JsonNode a) {
            return QueueTables.holds(a);
        }
    }

    @Command(name = "fail", mixinStandardHelpOptions = true,
            description = "Returns a message to its sender now, status 5.0.0 (postsuper -f; kcli bounce).")
    static final class Fail extends Request {
        @Parameters(paramLabel = "QUEUE_ID")
        String id;

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "fail?id=" + q(id);
        }

        @Override
        String render(JsonNode a) {
            return QueueTables.ordered(a);
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Deletes a message without telling its sender (postsuper -d).")
    static final class Delete extends Request {
        @Parameters(paramLabel = "QUEUE_ID")
        String id;

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "delete?id=" + q(id);
        }

        @Override
        String render(JsonNode a) {
            return QueueTables.ordered(a);
        }
    }

    @Command(name = "reload-dkim", mixinStandardHelpOptions = true,
            description = "Every signing process (edges, standalone) reads dkim.key-dir again and signs with it once "
                    + "every key passes the start's checks; on an error it keeps its old keys. Exit 1 unless all did.")
    static final class ReloadDkim extends Request {
        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "reload-dkim";
        }

        @Override
        String render(JsonNode a) {
            StringBuilder out = new StringBuilder();
            for (JsonNode p : a.path("processes")) {
                out.append(p.path("process").asText()).append(": ").append(p.path("ok").asBoolean() ? "reloaded: " : "NOT reloaded: ")
                        .append(p.path("keys").asText()).append('\n');
            }
            return out.length() == 0 ? "no signing process answered\n" : out.toString();
        }

        @Override
        int exitStatus(JsonNode a) {
            boolean all = a.path("processes").size() > 0;
            for (JsonNode p : a.path("processes")) {
                all &= p.path("ok").asBoolean();
            }
            return all ? 0 : 1;
        }
    }
}
