package net.mailrelay.deploy.manifests;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.mailrelay.deploy.RelayProcess;
import net.mailrelay.deploy.config.Settings;

/**
 * deploy/compose/compose.yaml read as Docker Compose reads it, as far as the tests need: the relay
 * services with their role, environment (env_file, then environment) and ports, and the bind mounts of
 * every service.
 */
final class Compose {

    static final Path FILE = Repository.COMPOSE.resolve("compose.yaml");

    /** A relay container: its role and the settings it starts with, resolved as MailRelay resolves them. */
    record Relay(String name, RelayProcess.Role role, JsonNode service, Map<String, String> environment, Settings settings) {
    }

    final JsonNode root = Yaml.document(FILE);

    JsonNode services() {
        return root.path("services");
    }

    JsonNode service(String name) {
        JsonNode s = services().path(name);
        if (s.isMissingNode()) {
            throw new AssertionError(FILE + ": no service '" + name + "'");
        }
        return s;
    }

    /** The services that run the relay image: those whose command starts with a role. */
    List<Relay> relays() {
        List<Relay> out = new ArrayList<>();
        services().properties().forEach(e -> {
            JsonNode command = e.getValue().path("command");
            if (!e.getValue().path("image").asText().startsWith("mail-relay:")) {
                return;
            }
            if (!command.isArray() || command.size() != 1) {
                throw new AssertionError(FILE + ": service " + e.getKey()
                        + ": command must be [ROLE] (the configuration comes from the environment), not " + command);
            }
            RelayProcess.Role role = RelayProcess.Role.valueOf(command.get(0).asText().toUpperCase(java.util.Locale.ROOT));
            Map<String, String> env = environment(e.getValue());
            // As MailRelay does: no role defaults for edge, worker and bounce, no file, then the environment.
            Settings settings = Settings.resolve(Map.of(), null, env, Map.of());
            out.add(new Relay(e.getKey(), role, e.getValue(), env, settings));
        });
        return out;
    }

    /** env_file (in order), then environment, as Compose merges them. */
    static Map<String, String> environment(JsonNode service) {
        Map<String, String> env = new LinkedHashMap<>();
        JsonNode files = service.path("env_file");
        List<JsonNode> list = new ArrayList<>();
        if (files.isArray()) {
            files.forEach(list::add);
        } else if (!files.isMissingNode()) {
            list.add(files);
        }
        for (JsonNode f : list) {
            String path = f.isObject() ? f.path("path").asText() : f.asText();
            env.putAll(EnvFile.read(Repository.COMPOSE.resolve(path)));
        }
        JsonNode e = service.path("environment");
        if (e.isArray()) {
            for (JsonNode line : e) {
                String s = line.asText();
                int eq = s.indexOf('=');
                env.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? "" : s.substring(eq + 1));
            }
        } else {
            e.properties().forEach(x -> env.put(x.getKey(), x.getValue().asText()));
        }
        return env;
    }

    /** Container ports a service publishes ("ports") or declares ("expose"). */
    static List<Integer> containerPorts(JsonNode service, String field) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode p : service.path(field)) {
            String target = p.isObject() ? p.path("target").asText() : p.asText();
            target = target.substring(target.lastIndexOf(':') + 1).replace("/tcp", "");
            if (target.contains("-")) {
                throw new AssertionError(FILE + ": port ranges are not used: " + p);
            }
            out.add(Integer.parseInt(target));
        }
        return out;
    }

    /** The host path bind-mounted at {@code containerPath} or above it, with the rest of the path appended. */
    static Optional<Path> hostPathOf(JsonNode service, String containerPath) {
        for (JsonNode v : service.path("volumes")) {
            String[] parts = v.asText().split(":");
            if (parts.length < 2 || !(parts[0].startsWith(".") || parts[0].startsWith("/"))) {
                continue; // a named volume
            }
            String target = parts[1];
            if (containerPath.equals(target) || containerPath.startsWith(target + "/")) {
                return Optional.of(Repository.COMPOSE.resolve(parts[0]).normalize()
                        .resolve(containerPath.substring(target.length()).replaceFirst("^/", "")));
            }
        }
        return Optional.empty();
    }
}
