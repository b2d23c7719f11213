package net.mailrelay.deploy.manifests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import net.mailrelay.delivery.DeliveryWorker;
import net.mailrelay.deploy.RelayProcess.Role;
import net.mailrelay.deploy.config.Key;
import net.mailrelay.deploy.config.Keys;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.record.Topics;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfile, the compose cluster (deploy/compose) and the Kubernetes manifests (deploy/k8s) agree
 * with the code: every configuration they set is a key of {@link Keys} (resolved through {@link Settings},
 * so an unknown key or a bad value fails here as it would fail the container), ports are the ones the
 * settings make the relay listen on, probes and scrapes use paths the OpsServer serves, Hazelcast members
 * are listed or discovered as the settings say, and KEDA watches the workers' real consumer group and
 * topics. The tests read the files; they start nothing.
 */
class ManifestTest {

    private static final Set<Role> HAZELCAST_ROLES = Set.of(Role.EDGE, Role.WORKER, Role.STANDALONE);
    private final Compose compose = new Compose();
    private final Kube kube = new Kube();

    // ------------------------------------------------------------------ all files

    @Test
    void everyYamlFileParsesStrictlyAndBelongsToItsDeployment() {
        List<Path> yaml = Stream.of(Repository.K8S, Repository.COMPOSE, Repository.GRAFANA)
                .flatMap(d -> Repository.files(d, ".yaml", ".yml").stream()).toList();
        assertThat(yaml).isNotEmpty();
        yaml.forEach(f -> assertThat(Yaml.documents(f)).as("documents of %s", f).isNotEmpty());
        // No manifest under deploy/k8s or deploy/grafana that kubectl apply -k would leave out.
        assertThat(kube.files).containsAll(yaml.stream().filter(f -> !f.startsWith(Repository.COMPOSE)).toList());
    }

    @Test
    void theImageExposesThePortsTheRelayListensOnAndRunsTheJarUnprivileged() {
        List<String> lines = dockerfile();
        Set<Integer> exposed = lines.stream().filter(l -> l.startsWith("EXPOSE ")).flatMap(l -> Stream.of(l.substring(7).trim().split("\\s+")))
                .map(p -> Integer.parseInt(p.replace("/tcp", ""))).collect(Collectors.toSet());
        assertThat(exposed).isEqualTo(Set.of(defaultPort(Keys.SMTP_PORT), defaultPort(Keys.SUBMISSION_PORT),
                defaultPort(Keys.SMTPS_PORT), defaultPort(Keys.HTTP_PORT), defaultPort(Keys.HAZELCAST_PORT)));
        assertThat(lines).anyMatch(l -> l.matches("FROM eclipse-temurin:(17|21)(-jre|-jre-[a-z]+)( AS \\w+)?"));
        String user = lines.stream().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b).orElse("USER root").substring(5).trim();
        assertThat(user.split(":")[0]).as("the image's user").isNotIn("root", "0");
        assertThat(lines).contains("ENTRYPOINT [\"java\", \"-jar\", \"/opt/mail-relay/mail-relay.jar\"]");
        // The jar the shade plugin builds (finalName in deploy/pom.xml) is the one copied.
        assertThat(Repository.read(Repository.DEPLOY.resolve("pom.xml"))).contains("<finalName>mail-relay</finalName>");
        assertThat(lines).anyMatch(l -> l.matches("COPY .*target/mail-relay\\.jar /opt/mail-relay/mail-relay\\.jar"));
    }

    // ------------------------------------------------------------------ compose

    @Test
    void composeRunsTwoEdgesThreeWorkersAndABounceServiceFromTheOneImage() {
        List<Compose.Relay> relays = compose.relays();
        assertThat(relays.stream().map(r -> r.role()).collect(Collectors.groupingBy(r -> r, Collectors.counting())))
                .isEqualTo(Map.of(Role.EDGE, 2L, Role.WORKER, 3L, Role.BOUNCE, 1L));
        assertThat(relays.stream().map(r -> r.service().path("image").asText()).distinct()).hasSize(1);
        for (Compose.Relay r : relays) {
            JsonNode build = r.service().path("build");
            Path dockerfile = Repository.COMPOSE.resolve(build.path("context").asText()).resolve(build.path("dockerfile").asText("Dockerfile"));
            assertThat(dockerfile.normalize()).as("%s builds from", r.name()).isEqualTo(Repository.DOCKERFILE);
        }
        assertThat(compose.service("kafka").path("image").asText()).startsWith("apache/kafka:");
        assertThat(compose.service("kafka").path("environment").path("KAFKA_PROCESS_ROLES").asText()).isEqualTo("broker,controller");
        compose.service("prometheus");
        compose.service("grafana");
    }

    @Test
    void composeContainersListenWhereTheirSettingsSay() {
        for (Compose.Relay r : compose.relays()) {
            Settings s = r.settings();
            Set<Integer> published = new HashSet<>(Compose.containerPorts(r.service(), "ports"));
            Set<Integer> declared = new HashSet<>(Compose.containerPorts(r.service(), "expose"));
            declared.addAll(published);
            assertThat(published).as("%s publishes", r.name()).isEqualTo(r.role() == Role.EDGE ? smtpPorts(s) : Set.of());
            Set<Integer> internal = new HashSet<>(Set.of(s.get(Keys.HTTP_PORT)));
            if (HAZELCAST_ROLES.contains(r.role())) {
                internal.add(s.get(Keys.HAZELCAST_PORT));
            }
            assertThat(declared).as("%s ports", r.name()).containsAll(internal);
            if (published.stream().anyMatch(p -> p < 1024)) {
                assertThat(r.service().path("sysctls").path("net.ipv4.ip_unprivileged_port_start").asText())
                        .as("%s binds ports below 1024 as an unprivileged user", r.name()).isEqualTo("0");
            }
        }
    }

    @Test
    void composeHazelcastMembersAreEveryEdgeAndWorkerEachNamed() {
        List<Compose.Relay> relays = compose.relays();
        Set<String> expected = relays.stream().filter(r -> HAZELCAST_ROLES.contains(r.role()))
                .map(r -> r.name() + ":" + r.settings().get(Keys.HAZELCAST_PORT)).collect(Collectors.toSet());
        for (Compose.Relay r : relays) {
            assertThat(r.settings().get(Keys.HAZELCAST_DISCOVERY)).isEqualTo("tcp-ip");
            List<String> members = r.settings().get(Keys.HAZELCAST_MEMBERS);
            members.forEach(m -> assertThat(m).as("%s: hazelcast member", r.name()).matches("[a-z0-9.-]+:[0-9]+"));
            if (HAZELCAST_ROLES.contains(r.role())) {
                assertThat(new HashSet<>(members)).as("%s: hazelcast.members", r.name()).isEqualTo(expected);
            }
        }
    }

    @Test
    void composeKafkaIsTheBrokerTheRelaysUseWithTheirReplication() {
        JsonNode kafka = compose.service("kafka").path("environment");
        long brokers = compose.services().properties().stream()
                .filter(e -> e.getValue().path("image").asText().startsWith("apache/kafka:")).count();
        for (Compose.Relay r : compose.relays()) {
            Settings s = r.settings();
            for (String server : s.get(Keys.BOOTSTRAP_SERVERS).split(",")) {
                assertThat(kafka.path("KAFKA_ADVERTISED_LISTENERS").asText()).as("%s: %s", r.name(), server).contains("//" + server);
            }
            assertThat((long) s.get(Keys.REPLICATION)).as("%s: kafka.replication-factor", r.name()).isLessThanOrEqualTo(brokers);
            assertThat(s.get(Keys.MIN_INSYNC)).as("%s: kafka.min-insync-replicas", r.name()).isLessThanOrEqualTo(s.get(Keys.REPLICATION));
        }
    }

    /** Issue 17: the compose relays log in to a secured Kafka, over the listener their bootstrap servers name. */
    @Test
    void composeRelaysReachKafkaOverSaslSsl() {
        JsonNode kafka = compose.service("kafka").path("environment");
        String map = kafka.path("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP").asText();
        for (Compose.Relay r : compose.relays()) {
            Settings s = r.settings();
            assertThat(s.get(Keys.KAFKA_SECURITY)).as(r.name()).isEqualTo("SASL_SSL");
            assertThat(s.get(Keys.KAFKA_SASL_PASSWORD_FILE)).as("%s: kafka.sasl.password-file", r.name()).isPresent();
            assertThat(s.get(Keys.KAFKA_SSL_CA)).as("%s: kafka.ssl.ca-file", r.name()).isPresent();
            assertThat(kafka.path("KAFKA_SASL_ENABLED_MECHANISMS").asText()).contains(s.get(Keys.KAFKA_SASL_MECHANISM));
            for (String server : s.get(Keys.BOOTSTRAP_SERVERS).split(",")) {
                Matcher m = Pattern.compile("(\\w+)://" + Pattern.quote(server)).matcher(kafka.path("KAFKA_ADVERTISED_LISTENERS").asText());
                assertThat(m.find()).as("%s: a listener advertised at %s", r.name(), server).isTrue();
                assertThat(map).as("%s: the listener at %s", r.name(), server).contains(m.group(1) + ":SASL_SSL");
            }
        }
    }

    @Test
    void composeFilesTheSettingsNameAreMountedAndKeptOutOfGit() {
        Compose.Relay worker = compose.relays().stream().filter(w -> w.role() == Role.WORKER).findFirst().orElseThrow();
        Path seal = Compose.hostPathOf(worker.service(), worker.settings().get(Keys.HAZELCAST_SECRET_FILE).orElseThrow().toString())
                .orElseThrow();
        for (Compose.Relay r : compose.relays()) {
            List<Key<java.util.Optional<Path>>> keys = new ArrayList<>(List.of(Keys.KAFKA_SASL_PASSWORD_FILE, Keys.KAFKA_SSL_CA));
            if (r.role() == Role.EDGE) {
                keys.addAll(List.of(Keys.TLS_CERT, Keys.TLS_KEY, Keys.USERS_FILE)); // only the edge reads these
            }
            if (r.role() == Role.WORKER) {
                assertThat(r.settings().get(Keys.HAZELCAST_SECRET_FILE)).as("%s: hazelcast.secret-file", r.name()).isPresent();
                keys.add(Keys.HAZELCAST_SECRET_FILE);
            } else {
                // Issue 29: an edge holds no seal key, and its mounts do not reach the file.
                assertThat(r.settings().get(Keys.HAZELCAST_SECRET_FILE)).as("%s: hazelcast.secret-file", r.name()).isEmpty();
                for (JsonNode v : r.service().path("volumes")) {
                    Path host = Repository.COMPOSE.resolve(v.asText().split(":")[0]).normalize();
                    assertThat(seal.startsWith(host)).as("%s mounts %s, which holds the seal", r.name(), v.asText()).isFalse();
                }
            }
            if (r.role() != Role.BOUNCE) {
                assertThat(r.settings().get(Keys.HAZELCAST_CLUSTER_FILE)).as("%s: hazelcast.cluster-name-file", r.name()).isPresent();
                keys.add(Keys.HAZELCAST_CLUSTER_FILE);
            }
            for (Key<java.util.Optional<Path>> key : keys) {
                r.settings().get(key).ifPresent(p -> {
                    Path host = Compose.hostPathOf(r.service(), p.toString())
                            .orElseThrow(() -> new AssertionError(r.name() + ": " + key.name() + " " + p + " is not bind-mounted"));
                    assertThat(host.getParent()).as("%s: %s comes from", r.name(), key.name()).isDirectory();
                    assertThat(Repository.read(host.getParent().resolve(".gitignore"))).as("%s is kept out of git", host.getParent())
                            .containsPattern("(?m)^\\*$");
                });
            }
        }
    }

    @Test
    void composeWorkersMayFinishTheirDeliveriesOnStop() {
        for (Compose.Relay r : compose.relays()) {
            if (r.role() == Role.WORKER) {
                Duration stop = composeDuration(r.service().path("stop_grace_period").asText("10s"));
                assertThat(stop).as("%s: stop_grace_period", r.name()).isGreaterThan(r.settings().get(Keys.SHUTDOWN_GRACE));
            }
        }
    }

    @Test
    void prometheusScrapesEveryRelayContainerOnItsMetricsPath() {
        JsonNode prometheus = compose.service("prometheus");
        String configPath = argument(prometheus.path("command"), "--config.file=");
        Path config = Compose.hostPathOf(prometheus, configPath).orElseThrow();
        JsonNode root = Yaml.document(config);
        Set<String> targets = new TreeSet<>();
        for (JsonNode job : root.path("scrape_configs")) {
            assertThat(job.path("metrics_path").asText("/metrics")).as("job %s", job.path("job_name")).isEqualTo("/metrics");
            job.path("static_configs").forEach(sc -> sc.path("targets").forEach(t -> targets.add(t.asText())));
        }
        assertThat(opsServerPaths()).contains("/metrics");
        assertThat(targets).isEqualTo(compose.relays().stream().map(r -> r.name() + ":" + r.settings().get(Keys.HTTP_PORT))
                .collect(Collectors.toCollection(TreeSet::new)));
        for (JsonNode ruleFile : root.path("rule_files")) {
            Path rules = Compose.hostPathOf(prometheus, ruleFile.asText())
                    .orElseThrow(() -> new AssertionError("rule file " + ruleFile + " is not mounted"));
            assertThat(rules).exists();
        }
    }

    @Test
    void prometheusRulesReadOnlyCatalogMetrics() {
        MetricsCatalog catalog = MetricsCatalog.load();
        List<String> problems = new ArrayList<>();
        for (Path f : Repository.files(Repository.COMPOSE, ".yml", ".yaml")) {
            for (JsonNode doc : Yaml.documents(f)) {
                for (JsonNode group : doc.path("groups")) {
                    for (JsonNode rule : group.path("rules")) {
                        for (String name : PromQl.metricNames(rule.path("expr").asText())) {
                            // up is Prometheus's own series about each scrape.
                            if (!name.equals("up")) {
                                catalog.problemWith(name).ifPresent(p -> problems.add(f.getFileName() + " " + rule.path("alert").asText() + ": " + p));
                            }
                        }
                    }
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    @Test
    void grafanaProvisionsThePrometheusDataSourceAndTheDashboards() {
        JsonNode grafana = compose.service("grafana");
        Path provisioning = Compose.hostPathOf(grafana, "/etc/grafana/provisioning").orElseThrow();
        JsonNode ds = Yaml.document(provisioning.resolve("datasources/prometheus.yaml")).path("datasources").get(0);
        assertThat(ds.path("type").asText()).isEqualTo("prometheus");
        assertThat(ds.path("url").asText()).isEqualTo("http://prometheus:" + Compose.containerPorts(compose.service("prometheus"), "ports").get(0));
        for (Path f : Repository.files(provisioning.resolve("dashboards"), ".yaml")) {
            for (JsonNode provider : Yaml.document(f).path("providers")) {
                Path dir = Compose.hostPathOf(grafana, provider.path("options").path("path").asText()).orElseThrow();
                assertThat(dir.normalize()).isEqualTo(Repository.DASHBOARDS);
            }
        }
        String home = grafana.path("environment").path("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH").asText();
        assertThat(Compose.hostPathOf(grafana, home).orElseThrow()).exists();
    }

    // ------------------------------------------------------------------ Kubernetes

    @Test
    void kubernetesRunsEachRoleFromTheConfigMapWithDeclaredKeys() {
        assertThat(kube.relays().stream().map(Kube.Relay::role).sorted().toList()).containsExactly(Role.EDGE, Role.WORKER, Role.BOUNCE);
        for (Kube.Relay r : kube.relays()) {
            assertThat(r.container().path("image").asText()).isEqualTo(kube.kustomization.path("images").get(0).path("name").asText());
            assertThat(r.configFile()).isEqualTo(Repository.K8S.resolve("relay.properties"));
        }
    }

    @Test
    void kubernetesPortsAndServicesAgreeWithTheSettings() {
        for (Kube.Relay r : kube.relays()) {
            Settings s = r.settings();
            Set<Integer> expected = new HashSet<>(Set.of(s.get(Keys.HTTP_PORT)));
            if (HAZELCAST_ROLES.contains(r.role())) {
                expected.add(s.get(Keys.HAZELCAST_PORT));
            }
            if (r.role() == Role.EDGE) {
                expected.addAll(smtpPorts(s));
            }
            Set<Integer> ports = new HashSet<>();
            r.container().path("ports").forEach(p -> ports.add(p.path("containerPort").asInt()));
            assertThat(ports).as("%s container ports", r.deployment().name()).isEqualTo(expected);
            JsonNode annotations = r.deployment().doc().path("spec").path("template").path("metadata").path("annotations");
            assertThat(annotations.path("prometheus.io/port").asText()).isEqualTo(String.valueOf(s.get(Keys.HTTP_PORT)));
            assertThat(annotations.path("prometheus.io/path").asText()).isEqualTo("/metrics");
            if (ports.stream().anyMatch(p -> p < 1024)) {
                assertThat(r.pod().path("securityContext").path("sysctls").findValuesAsText("value"))
                        .as("%s binds ports below 1024 as an unprivileged user", r.deployment().name()).contains("0");
            }
            assertThat(r.pod().path("securityContext").path("runAsNonRoot").asBoolean()).isTrue();
        }
        Kube.Relay edge = kube.relay(Role.EDGE);
        List<Kube.Resource> smtp = kube.ofKind("Service").stream()
                .filter(svc -> Kube.selects(svc.doc().path("spec").path("selector"), edge.labels())).filter(svc -> !svc.name().equals(
                        edge.settings().get(Keys.HAZELCAST_K8S_SERVICE))).toList();
        assertThat(smtp).hasSize(1);
        JsonNode spec = smtp.get(0).doc().path("spec");
        assertThat(spec.path("type").asText()).isIn("LoadBalancer", "NodePort");
        Set<Integer> servicePorts = new HashSet<>();
        for (JsonNode p : spec.path("ports")) {
            servicePorts.add(p.path("port").asInt());
            assertThat(Kube.port(edge.container(), p.path("targetPort"))).as("service port %s", p.path("name")).isEqualTo(p.path("port").asInt());
        }
        assertThat(servicePorts).isEqualTo(smtpPorts(edge.settings()));
        for (Kube.Resource svc : kube.ofKind("Service")) {
            assertThat(kube.relays()).as("pods of service %s", svc.name())
                    .anyMatch(r -> Kube.selects(svc.doc().path("spec").path("selector"), r.labels()));
        }
    }

    @Test
    void probesAskThePathsTheOpsServerServesOnTheHttpPort() {
        Set<String> served = opsServerPaths();
        for (Kube.Relay r : kube.relays()) {
            JsonNode c = r.container();
            assertThat(c.path("readinessProbe").path("httpGet").path("path").asText()).isEqualTo("/health/ready");
            assertThat(c.path("livenessProbe").path("httpGet").path("path").asText()).isEqualTo("/health/live");
            for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
                JsonNode get = c.path(probe).path("httpGet");
                if (!get.isMissingNode()) {
                    assertThat(served).as("%s %s", r.deployment().name(), probe).contains(get.path("path").asText());
                    assertThat(Kube.port(c, get.path("port"))).as("%s %s port", r.deployment().name(), probe)
                            .isEqualTo(r.settings().get(Keys.HTTP_PORT));
                }
            }
        }
    }

    @Test
    void hazelcastFindsTheEdgesAndWorkersThroughAHeadlessServiceItMayRead() {
        Kube.Relay bounce = kube.relay(Role.BOUNCE);
        for (Kube.Relay r : kube.relays()) {
            if (!HAZELCAST_ROLES.contains(r.role())) {
                continue;
            }
            Settings s = r.settings();
            assertThat(s.get(Keys.HAZELCAST_DISCOVERY)).isEqualTo("kubernetes");
            assertThat(s.get(Keys.HAZELCAST_K8S_NAMESPACE)).isIn("", kube.kustomization.path("namespace").asText());
            JsonNode svc = kube.named("Service", s.get(Keys.HAZELCAST_K8S_SERVICE)).doc().path("spec");
            assertThat(svc.path("clusterIP").asText()).isEqualTo("None");
            assertThat(svc.path("publishNotReadyAddresses").asBoolean()).as("members find each other before they are ready").isTrue();
            assertThat(Kube.selects(svc.path("selector"), r.labels())).as("%s is behind the Hazelcast service", r.deployment().name()).isTrue();
            assertThat(Kube.selects(svc.path("selector"), bounce.labels())).as("the bounce service runs no Hazelcast member").isFalse();
            JsonNode port = svc.path("ports").get(0);
            assertThat(port.path("port").asInt()).isEqualTo(s.get(Keys.HAZELCAST_PORT));
            assertThat(Kube.port(r.container(), port.path("targetPort"))).isEqualTo(s.get(Keys.HAZELCAST_PORT));
            String account = r.pod().path("serviceAccountName").asText();
            kube.named("ServiceAccount", account);
            Kube.Resource binding = kube.ofKind("RoleBinding").stream().filter(b -> b.doc().path("subjects").findValuesAsText("name").contains(account))
                    .findFirst().orElseThrow(() -> new AssertionError("no RoleBinding for " + account));
            JsonNode rules = kube.named("Role", binding.doc().path("roleRef").path("name").asText()).doc().path("rules");
            for (String resource : List.of("endpoints", "pods", "services")) {
                assertThat(rules).as("%s may get and list %s", account, resource).anyMatch(rule ->
                        contains(rule.path("apiGroups"), "") && contains(rule.path("resources"), resource) && contains(rule.path("verbs"), "get")
                                && contains(rule.path("verbs"), "list"));
            }
        }
    }

    /**
     * Issue 17: Hazelcast has no member authentication, so only the relay's own members may reach its
     * port, each listens on its pod's address alone, and the cluster name comes from a Secret.
     */
    @Test
    void onlyTheRelaysOwnMembersReachHazelcastAndEachListensOnItsPodAddress() {
        JsonNode policy = kube.named("NetworkPolicy", "mail-relay-hazelcast").doc().path("spec");
        assertThat(contains(policy.path("policyTypes"), "Ingress")).isTrue();
        Kube.Relay bounce = kube.relay(Role.BOUNCE);
        for (Kube.Relay r : kube.relays()) {
            if (!HAZELCAST_ROLES.contains(r.role())) {
                continue;
            }
            Settings s = r.settings();
            assertThat(s.get(Keys.HAZELCAST_BIND)).as("%s binds Hazelcast to its pod IP", r.deployment().name())
                    .isEqualTo(Kube.POD_IP);
            assertThat(s.get(Keys.HAZELCAST_CLUSTER)).as("%s takes the cluster name from a Secret, not the default",
                    r.deployment().name()).isEqualTo("value-from-mail-relay-hazelcast");
            if (r.role() == Role.WORKER) {
                Path secret = s.get(Keys.HAZELCAST_SECRET_FILE).orElseThrow(() -> new AssertionError(
                        r.deployment().name() + " seals its ledger with a secret of its own (hazelcast.secret-file)"));
                assertThat(kube.sourceOf(r.pod(), r.container(), secret.toString())).as("%s: hazelcast.secret-file %s",
                        r.deployment().name(), secret).hasValueSatisfying(source -> assertThat(kube.secrets.get("mail-relay-seal"))
                        .containsValue(source));
            } else {
                // Issue 29: the internet-facing tier holds no seal key, neither set nor mounted.
                assertThat(s.get(Keys.HAZELCAST_SECRET_FILE)).as("%s: hazelcast.secret-file", r.deployment().name()).isEmpty();
                assertThat(r.pod().toString()).as("%s mounts the seal", r.deployment().name()).doesNotContain("mail-relay-seal");
            }
            assertThat(Kube.selects(policy.path("podSelector").path("matchLabels"), r.labels()))
                    .as("the policy covers %s", r.deployment().name()).isTrue();
            int port = s.get(Keys.HAZELCAST_PORT);
            for (JsonNode rule : policy.path("ingress")) {
                boolean opens = rule.path("ports").findValues("port").stream().anyMatch(p -> p.asInt() == port);
                if (!opens) {
                    continue;
                }
                assertThat(rule.path("from").size()).as("a rule that opens %d names who may come", port).isPositive();
                for (JsonNode from : rule.path("from")) {
                    JsonNode selector = from.path("podSelector").path("matchLabels");
                    assertThat(from.has("ipBlock") || from.has("namespaceSelector")).as("only pods of this namespace").isFalse();
                    assertThat(Kube.selects(selector, r.labels())).as("members reach each other").isTrue();
                    assertThat(Kube.selects(selector, bounce.labels())).as("the bounce service is no member").isFalse();
                }
            }
            // The ports that are not Hazelcast's stay open: SMTP on the edges, HTTP for probes and metrics.
            List<Integer> open = new ArrayList<>();
            policy.path("ingress").forEach(rule -> {
                if (rule.path("from").isMissingNode() || rule.path("from").isEmpty()) {
                    rule.path("ports").findValues("port").forEach(p -> open.add(p.asInt()));
                }
            });
            assertThat(open).as("ports of %s open to all", r.deployment().name()).contains(s.get(Keys.HTTP_PORT))
                    .doesNotContain(port);
            if (r.role() == Role.EDGE) {
                assertThat(open).contains(s.get(Keys.SMTP_PORT), s.get(Keys.SUBMISSION_PORT), s.get(Keys.SMTPS_PORT));
            }
        }
    }

    /**
     * Issue 17: every role reaches Kafka over SASL_SSL with the password and CA of one generated Secret,
     * and KEDA reads the workers' lag with the same login.
     */
    @Test
    void everyRoleAndKedaLogInToKafkaWithTheSecretsCredentials() {
        Map<String, Path> secret = kube.secrets.get("mail-relay-kafka");
        assertThat(secret).as("the generated Secret mail-relay-kafka").isNotNull();
        Settings s = kube.relay(Role.WORKER).settings();
        for (Kube.Relay r : kube.relays()) {
            Settings rs = r.settings();
            assertThat(rs.get(Keys.KAFKA_SECURITY)).as("%s reaches Kafka over", r.deployment().name()).isEqualTo("SASL_SSL");
            assertThat(rs.get(Keys.KAFKA_SASL_USERNAME)).isEqualTo(s.get(Keys.KAFKA_SASL_USERNAME));
            for (Key<java.util.Optional<Path>> key : List.of(Keys.KAFKA_SASL_PASSWORD_FILE, Keys.KAFKA_SSL_CA)) {
                Path p = rs.get(key).orElseThrow(() -> new AssertionError(key.name() + " is not set for " + r.deployment().name()));
                Path source = kube.sourceOf(r.pod(), r.container(), p.toString()).orElseThrow(() -> new AssertionError(
                        r.deployment().name() + ": " + key.name() + " " + p + " is not a key of a mounted, generated Secret"));
                assertThat(secret).as("%s of %s", key.name(), r.deployment().name()).containsValue(source);
                assertThat(Repository.read(source.getParent().resolve(".gitignore"))).containsPattern("(?m)^\\*$");
            }
        }
        Map<String, String> literals = kube.secretLiterals.get("mail-relay-kafka");
        JsonNode refs = kube.named("TriggerAuthentication", "mail-relay-kafka").doc().path("spec").path("secretTargetRef");
        Map<String, String> keda = new java.util.HashMap<>();
        for (JsonNode ref : refs) {
            assertThat(ref.path("name").asText()).isEqualTo("mail-relay-kafka");
            keda.put(ref.path("parameter").asText(), ref.path("key").asText());
        }
        Path password = kube.sourceOf(kube.relay(Role.WORKER).pod(), kube.relay(Role.WORKER).container(),
                s.get(Keys.KAFKA_SASL_PASSWORD_FILE).orElseThrow().toString()).orElseThrow();
        assertThat(secret.get(keda.get("password"))).isEqualTo(password);
        assertThat(secret.get(keda.get("ca"))).isEqualTo(kube.sourceOf(kube.relay(Role.WORKER).pod(),
                kube.relay(Role.WORKER).container(), s.get(Keys.KAFKA_SSL_CA).orElseThrow().toString()).orElseThrow());
        assertThat(literals.get(keda.get("username"))).isEqualTo(s.get(Keys.KAFKA_SASL_USERNAME));
        assertThat(literals.get(keda.get("sasl"))).as("KEDA's name for %s", s.get(Keys.KAFKA_SASL_MECHANISM))
                .isEqualTo(s.get(Keys.KAFKA_SASL_MECHANISM).toLowerCase(java.util.Locale.ROOT).replace("-sha-", "_sha"));
        assertThat(literals.get(keda.get("tls"))).isEqualTo("enable");
        for (JsonNode trigger : kube.ofKind("ScaledObject").get(0).doc().path("spec").path("triggers")) {
            assertThat(trigger.path("authenticationRef").path("name").asText()).isEqualTo("mail-relay-kafka");
        }
    }

    @Test
    void kedaScalesWorkersOnTheLagOfTheirConsumerGroupOneTriggerPerTopic() {
        Kube.Relay worker = kube.relay(Role.WORKER);
        Settings s = worker.settings();
        Topics topics = new Topics(s.get(Keys.TOPIC_PREFIX));
        Set<String> expected = new LinkedHashSet<>(List.of(topics.outbound()));
        s.get(Keys.RETRY_TIERS).forEach(t -> expected.add(topics.retryTier(t)));
        List<Kube.Resource> scaled = kube.ofKind("ScaledObject");
        assertThat(scaled).hasSize(1);
        JsonNode spec = scaled.get(0).doc().path("spec");
        assertThat(scaled.get(0).doc().path("apiVersion").asText()).isEqualTo("keda.sh/v1alpha1");
        assertThat(spec.path("scaleTargetRef").path("name").asText()).isEqualTo(worker.deployment().name());
        assertThat(spec.path("maxReplicaCount").asInt()).as("workers beyond the partitions would be idle")
                .isBetween(spec.path("minReplicaCount").asInt(), s.get(Keys.PARTITIONS));
        List<String> watched = new ArrayList<>();
        for (JsonNode trigger : spec.path("triggers")) {
            assertThat(trigger.path("type").asText()).isEqualTo("kafka");
            JsonNode m = trigger.path("metadata");
            m.properties().forEach(e -> Yaml.string(e.getValue(), "KEDA trigger metadata " + e.getKey()));
            assertThat(m.path("consumerGroup").asText()).isEqualTo(DeliveryWorker.groupId(topics));
            assertThat(m.path("bootstrapServers").asText()).isEqualTo(s.get(Keys.BOOTSTRAP_SERVERS));
            watched.add(m.path("topic").asText());
        }
        assertThat(watched).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(worker.deployment().doc().path("spec").has("replicas")).as("KEDA owns the worker count").isFalse();
    }

    @Test
    void edgesScaleOnCpuAndEveryDeploymentHasADisruptionBudget() {
        Kube.Relay edge = kube.relay(Role.EDGE);
        List<Kube.Resource> hpas = kube.ofKind("HorizontalPodAutoscaler");
        assertThat(hpas).hasSize(1);
        JsonNode hpa = hpas.get(0).doc().path("spec");
        assertThat(hpa.path("scaleTargetRef").path("name").asText()).isEqualTo(edge.deployment().name());
        assertThat(hpa.path("metrics").findValuesAsText("name")).contains("cpu");
        assertThat(edge.container().path("resources").path("requests").path("cpu").asText()).as("CPU utilization needs a request").isNotBlank();
        assertThat(edge.deployment().doc().path("spec").has("replicas")).as("the HPA owns the edge count").isFalse();
        MetricsCatalog catalog = MetricsCatalog.load();
        for (JsonNode metric : hpa.path("metrics")) {
            if (!metric.path("type").asText().equals("Resource")) {
                String name = metric.findPath("metric").path("name").asText();
                assertThat(catalog.problemWith(name)).as("HPA metric %s", name).isEmpty();
            }
        }
        for (Kube.Relay r : kube.relays()) {
            List<Kube.Resource> budgets = kube.ofKind("PodDisruptionBudget").stream()
                    .filter(p -> Kube.selects(p.doc().path("spec").path("selector").path("matchLabels"), r.labels())).toList();
            assertThat(budgets).as("disruption budgets of %s", r.deployment().name()).hasSize(1);
        }
    }

    @Test
    void workersMayFinishTheirDeliveriesBeforeTheyAreKilled() {
        Kube.Relay worker = kube.relay(Role.WORKER);
        Duration grace = Duration.ofSeconds(worker.pod().path("terminationGracePeriodSeconds").asLong(30));
        assertThat(grace).isGreaterThan(worker.settings().get(Keys.SHUTDOWN_GRACE));
    }

    @Test
    void kubernetesSecretsAreMountedWhereTheSettingsLookAndKeptOutOfGit() {
        for (Kube.Relay r : kube.relays()) {
            if (r.role() != Role.EDGE) {
                continue; // only the edge reads them
            }
            for (Key<java.util.Optional<Path>> key : List.of(Keys.TLS_CERT, Keys.TLS_KEY, Keys.USERS_FILE)) {
                Path p = r.settings().get(key).orElseThrow(() -> new AssertionError(key.name() + " is not set for the edge"));
                Path source = kube.sourceOf(r.pod(), r.container(), p.toString())
                        .orElseThrow(() -> new AssertionError(key.name() + " " + p + " is not a key of a mounted, generated Secret"));
                assertThat(kube.secrets.values()).anyMatch(m -> m.containsValue(source));
                assertThat(Repository.read(source.getParent().resolve(".gitignore"))).containsPattern("(?m)^\\*$");
            }
        }
    }

    @Test
    void kubernetesLabelsAnnotationsAndEnvironmentAreStrings() {
        for (Kube.Resource r : kube.resources) {
            List<JsonNode> metadata = new ArrayList<>(List.of(r.doc().path("metadata")));
            metadata.add(r.doc().path("spec").path("template").path("metadata"));
            for (JsonNode m : metadata) {
                m.path("labels").properties().forEach(e -> Yaml.string(e.getValue(), r.file() + " label " + e.getKey()));
                m.path("annotations").properties().forEach(e -> Yaml.string(e.getValue(), r.file() + " annotation " + e.getKey()));
            }
        }
    }

    @Test
    void theDashboardConfigMapHoldsEveryDashboard() {
        Set<Path> inConfigMap = new TreeSet<>(kube.configMaps.get("mail-relay-dashboards").values());
        assertThat(inConfigMap).isEqualTo(new TreeSet<>(Dashboards.files()));
    }

    // ------------------------------------------------------------------ helpers

    private static int defaultPort(Key<Integer> key) {
        return Integer.parseInt(key.defaultValue());
    }

    private static Set<Integer> smtpPorts(Settings s) {
        return Stream.of(s.get(Keys.SMTP_PORT), s.get(Keys.SUBMISSION_PORT), s.get(Keys.SMTPS_PORT)).filter(p -> p > 0)
                .collect(Collectors.toSet());
    }

    private static boolean contains(JsonNode array, String value) {
        for (JsonNode n : array) {
            if (n.asText().equals(value)) {
                return true;
            }
        }
        return false;
    }

    /** The paths the OpsServer registers (createContext), read from its source. */
    static Set<String> opsServerPaths() {
        Matcher m = Pattern.compile("createContext\\(\"([^\"]+)\"").matcher(Repository.read(Repository.OPS_SERVER));
        Set<String> paths = new TreeSet<>();
        while (m.find()) {
            paths.add(m.group(1));
        }
        return paths;
    }

    /** The Dockerfile's instructions, continuation lines joined, comments dropped. */
    private static List<String> dockerfile() {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : Repository.read(Repository.DOCKERFILE).split("\n")) {
            String t = line.strip();
            if (t.startsWith("#") || (t.isEmpty() && current.isEmpty())) {
                continue;
            }
            if (t.endsWith("\\")) {
                current.append(t, 0, t.length() - 1).append(' ');
                continue;
            }
            out.add(current.append(t).toString().replaceAll("\\s+", " ").trim());
            current.setLength(0);
        }
        return out;
    }

    private static String argument(JsonNode command, String prefix) {
        for (JsonNode a : command) {
            if (a.asText().startsWith(prefix)) {
                return a.asText().substring(prefix.length());
            }
        }
        throw new AssertionError("no " + prefix + " in " + command);
    }

    /** A Compose duration: 45s, 1m30s, 2m. */
    private static Duration composeDuration(String text) {
        Matcher m = Pattern.compile("(\\d+)(ms|h|m|s)").matcher(text);
        Duration d = Duration.ZERO;
        int end = 0;
        while (m.find()) {
            long n = Long.parseLong(m.group(1));
            d = d.plus(switch (m.group(2)) {
                case "h" -> Duration.ofHours(n);
                case "m" -> Duration.ofMinutes(n);
                case "s" -> Duration.ofSeconds(n);
                default -> Duration.ofMillis(n);
            });
            end = m.end();
        }
        assertThat(end).as("duration '%s'", text).isEqualTo(text.length());
        return d;
    }
}
