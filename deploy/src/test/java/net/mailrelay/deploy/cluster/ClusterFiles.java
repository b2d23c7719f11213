package net.mailrelay.deploy.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * What the tests' edges and workers join a cluster with, as an operator makes it (`secret generate`): a
 * random cluster name for everyone, and a seal key in a file for the workers alone.
 */
public record ClusterFiles(String clusterName, Path secretFile) {

    /** A new random name, and a new secret file in {@code dir}. */
    public static ClusterFiles in(Path dir) {
        SecureRandom random = new SecureRandom();
        byte[] name = new byte[12];
        byte[] secret = new byte[32];
        random.nextBytes(name);
        random.nextBytes(secret);
        try {
            Files.createDirectories(dir);
            Path file = Files.createTempFile(dir, "hazelcast-secret", "");
            Files.writeString(file, HexFormat.of().formatHex(secret) + "\n");
            return new ClusterFiles("test-" + HexFormat.of().formatHex(name), file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** In a new temporary folder. */
    public static ClusterFiles make() {
        try {
            return in(Files.createTempDirectory("mail-relay-cluster"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Map<String, String> edge() {
        return Map.of("hazelcast.cluster-name", clusterName);
    }

    public Map<String, String> worker() {
        return Map.of("hazelcast.cluster-name", clusterName, "hazelcast.secret-file", secretFile.toString());
    }

    public List<String> edgeArgs() {
        return List.of("--set", "hazelcast.cluster-name=" + clusterName);
    }

    public List<String> workerArgs() {
        return List.of("--set", "hazelcast.cluster-name=" + clusterName, "--set", "hazelcast.secret-file=" + secretFile);
    }
}
