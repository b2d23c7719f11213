package net.mailrelay.testing;

import java.nio.charset.StandardCharsets;
import net.mailrelay.protocol.cluster.Seal;

/** The cluster secret the tests' Hazelcast members share, as the workers of one relay do. */
public final class ClusterSecret {

    public static final Seal SEAL = Seal.of("the tests' cluster secret, 32+ bytes".getBytes(StandardCharsets.US_ASCII));

    private ClusterSecret() {
    }
}
