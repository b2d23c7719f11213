package net.mailrelay.deploy.manifests;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import net.mailrelay.deploy.RelayProcess;
import net.mailrelay.deploy.config.Settings;

/**
 * deploy/k8s as kustomize builds it, as far as the tests need: the resources of the kustomization and of
 * the kustomizations it includes, its generated ConfigMaps and Secrets (name, then key to file), and
 * each relay Deployment with the settings its container starts with.
 */
final class Kube {

    /** A resource and the file it came from. */
    record Resource(Path file, JsonNode doc) {
        String kind() {
            return doc.path("kind").asText();
        }

        String name() {
            return doc.path("metadata").path("name").asText();
        }
    }

    /** A relay Deployment: its role, its one container, and the settings it starts with. */
    record Relay(RelayProcess.Role role, Resource deployment, JsonNode pod, JsonNode container, Path configFile, Settings settings) {
        JsonNode labels() {
            return deployment.doc().path("spec").path("template").path("metadata").path("labels");
        }
    }

    /** What an env var from {@code status.podIP} resolves to here. */
    static final String POD_IP = "192.0.2.10";
    final JsonNode kustomization;
    final List<Resource> resources = new ArrayList<>();
    final List<Path> files = new ArrayList<>();
    final Map<String, Map<String, Path>> configMaps = new LinkedHashMap<>();
    final Map<String, Map<String, Path>> secrets = new LinkedHashMap<>();
    /** The literals of each generated Secret, key to value. */
    final Map<String, Map<String, String>> secretLiterals = new LinkedHashMap<>();

    Kube() {
        kustomization = load(Repository.K8S);
    }

    private JsonNode load(Path dir) {
        Path k = dir.resolve("kustomization.yaml");
        files.add(k);
        JsonNode kz = Yaml.document(k);
        for (JsonNode r : kz.path("resources")) {
            Path p = dir.resolve(r.asText()).normalize();
            if (Files.isDirectory(p)) {
                load(p);
            } else if (Files.isRegularFile(p)) {
                files.add(p);
                Yaml.documents(p).forEach(d -> resources.add(new Resource(p, d)));
            } else {
                throw new AssertionError(k + ": resource " + r.asText() + " does not exist");
            }
        }
        generators(dir, kz.path("configMapGenerator"), configMaps);
        generators(dir, kz.path("secretGenerator"), secrets);
        for (JsonNode g : kz.path("secretGenerator")) {
            Map<String, String> literals = new LinkedHashMap<>();
            for (JsonNode l : g.path("literals")) {
                String t = l.asText();
                literals.put(t.substring(0, t.indexOf('=')), t.substring(t.indexOf('=') + 1));
            }
            secretLiterals.put(g.path("name").asText(), literals);
        }
        return kz;
    }

    private static void generators(Path dir, JsonNode list, Map<String, Map<String, Path>> into) {
        for (JsonNode g : list) {
            Map<String, Path> keys = new LinkedHashMap<>();
            for (JsonNode f : g.path("files")) {
                String s = f.asText();
                int eq = s.indexOf('=');
                Path path = dir.resolve(eq < 0 ? s : s.substring(eq + 1)).normalize();
                keys.put(eq < 0 ? path.getFileName().toString() : s.substring(0, eq), path);
            }
            into.put(g.path("name").asText(), keys);
        }
    }

    List<Resource> ofKind(String kind) {
        return resources.stream().filter(r -> r.kind().equals(kind)).toList();
    }

    Resource named(String kind, String name) {
        return ofKind(kind).stream().filter(r -> r.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("deploy/k8s: no " + kind + " named " + name));
    }

    List<Relay> relays() {
        List<Relay> out = new ArrayList<>();
        for (Resource d : ofKind("Deployment")) {
            JsonNode pod = d.doc().path("spec").path("template").path("spec");
            if (pod.path("containers").size() != 1) {
                throw new AssertionError(d.file() + ": " + d.name() + " should run one container");
            }
            JsonNode c = pod.path("containers").get(0);
            JsonNode args = c.path("args");
            if (args.size() != 3 || !args.get(1).asText().equals("--config")) {
                throw new AssertionError(d.file() + ": " + d.name() + ": args must be [ROLE, --config, FILE], not " + args);
            }
            RelayProcess.Role role = RelayProcess.Role.valueOf(args.get(0).asText().toUpperCase(Locale.ROOT));
            Path config = fileInConfigMap(d, pod, c, args.get(2).asText());
            Settings settings = Settings.resolve(Map.of(), config, environment(d, c), Map.of());
            out.add(new Relay(role, d, pod, c, config, settings));
        }
        return out;
    }

    Relay relay(RelayProcess.Role role) {
        return relays().stream().filter(r -> r.role() == role).findFirst()
                .orElseThrow(() -> new AssertionError("deploy/k8s: no Deployment runs the " + role + " role"));
    }

    /** The container's environment; a value from a Secret must name a generated Secret and key. */
    private Map<String, String> environment(Resource d, JsonNode container) {
        Map<String, String> env = new LinkedHashMap<>();
        for (JsonNode e : container.path("env")) {
            String name = e.path("name").asText();
            if (e.has("value")) {
                env.put(name, Yaml.string(e.path("value"), d.file() + ": env " + name));
                continue;
            }
            JsonNode field = e.path("valueFrom").path("fieldRef");
            if (!field.isMissingNode()) {
                // The downward API: only the pod's own address, which stands in as a documentation address.
                if (!field.path("fieldPath").asText().equals("status.podIP")) {
                    throw new AssertionError(d.file() + ": env " + name + " takes " + field + ", not the pod's IP");
                }
                env.put(name, POD_IP);
                continue;
            }
            JsonNode ref = e.path("valueFrom").path("secretKeyRef");
            Map<String, Path> secret = secrets.get(ref.path("name").asText());
            if (secret == null || !secret.containsKey(ref.path("key").asText())) {
                throw new AssertionError(d.file() + ": env " + name + " refers to " + ref + ", not a generated Secret key");
            }
            env.put(name, "value-from-" + ref.path("name").asText());
        }
        return env;
    }

    /** The repository file a container path comes from, through a volume of a generated ConfigMap or Secret. */
    Optional<Path> sourceOf(JsonNode pod, JsonNode container, String containerPath) {
        for (JsonNode m : container.path("volumeMounts")) {
            String dir = m.path("mountPath").asText();
            if (!containerPath.startsWith(dir + "/")) {
                continue;
            }
            String key = containerPath.substring(dir.length() + 1);
            for (JsonNode v : pod.path("volumes")) {
                if (!v.path("name").asText().equals(m.path("name").asText())) {
                    continue;
                }
                Map<String, Path> source = v.has("configMap") ? configMaps.get(v.path("configMap").path("name").asText())
                        : v.has("secret") ? secrets.get(v.path("secret").path("secretName").asText()) : null;
                if (source != null && source.containsKey(key)) {
                    return Optional.of(source.get(key));
                }
            }
        }
        return Optional.empty();
    }

    private Path fileInConfigMap(Resource d, JsonNode pod, JsonNode container, String path) {
        Path p = sourceOf(pod, container, path).orElseThrow(() -> new AssertionError(d.file() + ": " + d.name()
                + ": --config " + path + " is not a file of a mounted, generated ConfigMap"));
        if (configMaps.values().stream().noneMatch(m -> m.containsValue(p))) {
            throw new AssertionError(d.file() + ": --config " + path + " comes from a Secret, not the ConfigMap");
        }
        return p;
    }

    /** A container port number by name or number. */
    static int port(JsonNode container, JsonNode nameOrNumber) {
        if (nameOrNumber.isInt()) {
            return nameOrNumber.asInt();
        }
        for (JsonNode p : container.path("ports")) {
            if (p.path("name").asText().equals(nameOrNumber.asText())) {
                return p.path("containerPort").asInt();
            }
        }
        throw new AssertionError("no container port named " + nameOrNumber);
    }

    /** True when every label of the selector is on the pod. */
    static boolean selects(JsonNode selector, JsonNode podLabels) {
        if (selector.isMissingNode() || selector.isEmpty()) {
            return false;
        }
        for (var e : selector.properties()) {
            if (!e.getValue().asText().equals(podLabels.path(e.getKey()).asText(null))) {
                return false;
            }
        }
        return true;
    }
}
