package net.mailrelay.deploy.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import net.mailrelay.deploy.config.ConfigException;
import net.mailrelay.deploy.config.Keys;
import net.mailrelay.deploy.config.Settings;
import net.mailrelay.protocol.cluster.Seal;

/**
 * What a process must know to take part in the cluster plane (docs/queue.md, "Who can reach Hazelcast"):
 * the Hazelcast cluster name, which every member needs to join, and the seal key, which only workers hold.
 *
 * <p>The name travels in clear between members, so it is a barrier, not authentication; but a default
 * or a guessable one is not even a barrier, so cluster roles refuse the default and short names. The
 * seal key is never derived from anything an outsider can know: a worker without
 * {@code hazelcast.secret-file} does not start. An edge faces the internet and never writes a sealed
 * value, so it gets no key, and refuses one it is given: taking over an edge must not hand out the key
 * that every "delivered" mark rests on. Standalone, a cluster of one on 127.0.0.1 whose maps die with
 * it, makes a random key and keeps the default name.
 */
public final class ClusterCredentials {

    /** The fewest characters a cluster role's cluster name may have: 16 random hex digits are 64 bits. */
    static final int MIN_NAME = 16;

    private static final String HOW = "make one with `java -jar mail-relay.jar secret generate --file FILE` and give the same "
            + "file to every ";

    /** Who holds what. */
    public enum Holder {
        /** One process, Hazelcast on loopback alone: its own random key, any name. */
        STANDALONE,
        /** Joins, never seals: the cluster name, no key. */
        EDGE,
        /** Joins and seals: the cluster name and the key. */
        WORKER
    }

    private ClusterCredentials() {
    }

    /** The cluster name this process joins with; a cluster role refuses the default and names under 16 characters. */
    public static String clusterName(Settings s, Holder holder) {
        Optional<Path> file = s.get(Keys.HAZELCAST_CLUSTER_FILE);
        String name = s.get(Keys.HAZELCAST_CLUSTER);
        if (file.isPresent()) {
            if (!name.equals(Keys.HAZELCAST_CLUSTER.defaultValue())) {
                throw new ConfigException(Keys.HAZELCAST_CLUSTER_FILE.name(), file.get().toString(),
                        "set either hazelcast.cluster-name or hazelcast.cluster-name-file, not both");
            }
            name = read(file.get(), Keys.HAZELCAST_CLUSTER_FILE.name());
        }
        if (holder == Holder.STANDALONE) {
            return name;
        }
        if (name.equals(Keys.HAZELCAST_CLUSTER.defaultValue())) {
            throw new ConfigException(Keys.HAZELCAST_CLUSTER.name(), name, "an edge or a worker does not join with the default "
                    + "cluster name, which anyone who reaches port 5701 can use; set hazelcast.cluster-name-file (or "
                    + "MAILRELAY_HAZELCAST_CLUSTER_NAME from a secret) to a random name: " + HOW + "edge and worker");
        }
        if (name.length() < MIN_NAME) {
            throw new ConfigException(Keys.HAZELCAST_CLUSTER.name(), null, "the cluster name has " + name.length()
                    + " characters; at least " + MIN_NAME + " random ones, so that it cannot be guessed: " + HOW + "edge and worker");
        }
        return name;
    }

    /** The seal of a worker or standalone; null for an edge, which holds no key and refuses one. */
    public static Seal seal(Settings s, Holder holder) {
        Optional<Path> file = s.get(Keys.HAZELCAST_SECRET_FILE);
        switch (holder) {
            case STANDALONE:
                return file.isPresent() ? open(file.get()) : Seal.random();
            case EDGE:
                if (file.isPresent()) {
                    throw new ConfigException(Keys.HAZELCAST_SECRET_FILE.name(), file.get().toString(), "an edge holds no "
                            + "seal key: it never writes a sealed value, and it faces the internet. Give the file to the workers "
                            + "alone, and do not mount it into the edges");
                }
                return null;
            default:
                if (file.isEmpty()) {
                    throw new ConfigException(Keys.HAZELCAST_SECRET_FILE.name(), null, "a worker needs the cluster secret that "
                            + "seals the ledger's marks, the claims, the orders and the suppressions in Hazelcast (a key derived "
                            + "from anything else could be forged by whoever reaches port 5701): " + HOW + "worker");
                }
                return open(file.get());
        }
    }

    private static Seal open(Path file) {
        String secret = read(file, Keys.HAZELCAST_SECRET_FILE.name());
        try {
            return Seal.of(secret.getBytes(StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(Keys.HAZELCAST_SECRET_FILE.name(), file.toString(), e.getMessage()
                    + " (`java -jar mail-relay.jar secret generate --file FILE` makes 256 random bits)");
        }
    }

    private static String read(Path file, String key) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new ConfigException(key, file.toString(), "cannot be read: " + e);
        }
    }
}
