package net.mailrelay.deploy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SelfSignedCertificateTest {

    @TempDir
    Path dir;

    @Test
    void makesACertificateNettyLoadsAndAClientTrustingItCanUse() throws Exception {
        Path cert = dir.resolve("tls/cert.pem");
        Path key = dir.resolve("tls/key.pem");
        assertThat(SelfSignedCertificate.ensure(cert, key, "mx.relay.test")).isTrue();

        assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(Files.readString(cert)).startsWith("-----BEGIN CERTIFICATE-----");
        SslContext server = SslContextBuilder.forServer(cert.toFile(), key.toFile()).protocols("TLSv1.3", "TLSv1.2").build();

        X509Certificate x509 = read(cert);
        assertThat(x509.getSubjectX500Principal().getName()).isEqualTo("CN=mx.relay.test");
        assertThat(x509.getSubjectAlternativeNames()).containsExactlyInAnyOrder(
                List.of(2, "mx.relay.test"), List.of(2, "localhost"), List.of(7, "127.0.0.1"));
        assertThat(x509.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(x509.getBasicConstraints()).isEqualTo(-1);
        Instant now = Instant.now();
        assertThat(x509.getNotBefore().toInstant()).isBetween(now.minus(Duration.ofDays(1).plusMinutes(1)), now.minus(Duration.ofHours(23)));
        assertThat(x509.getNotAfter().toInstant()).isBetween(now.plus(Duration.ofDays(729)), now.plus(Duration.ofDays(732)));
        x509.verify(x509.getPublicKey());

        for (String protocol : List.of("TLSv1.3", "TLSv1.2")) {
            SslContext client = SslContextBuilder.forClient().trustManager(cert.toFile()).protocols(protocol)
                    .endpointIdentificationAlgorithm("HTTPS").build();
            assertThat(handshake(server, client, "mx.relay.test")).isEqualTo(protocol);
            assertThat(handshake(server, client, "localhost")).isEqualTo(protocol);
        }
    }

    @Test
    void theKeyIsReadableByItsOwnerOnly() throws Exception {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        SelfSignedCertificate.ensure(cert, key, "localhost");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
        assertThat(read(cert).getSubjectAlternativeNames()).containsExactly(List.of(2, "localhost"));
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("cert.pem", "key.pem");
        }
    }

    @Test
    void existingFilesAreLeftAlone() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        assertThat(SelfSignedCertificate.ensure(cert, key, "mx.relay.test")).isTrue();
        byte[] certBytes = Files.readAllBytes(cert);
        byte[] keyBytes = Files.readAllBytes(key);
        FileTime certTime = Files.getLastModifiedTime(cert);
        FileTime keyTime = Files.getLastModifiedTime(key);

        assertThat(SelfSignedCertificate.ensure(cert, key, "another.name.test")).isFalse();
        assertThat(Files.readAllBytes(cert)).isEqualTo(certBytes);
        assertThat(Files.readAllBytes(key)).isEqualTo(keyBytes);
        assertThat(Files.getLastModifiedTime(cert)).isEqualTo(certTime);
        assertThat(Files.getLastModifiedTime(key)).isEqualTo(keyTime);
    }

    @Test
    void aHalfWrittenPairIsReplaced() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Files.writeString(key, "left over from an interrupted start");
        assertThat(SelfSignedCertificate.ensure(cert, key, "192.0.2.7")).isTrue();
        assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(read(cert).getSubjectAlternativeNames()).containsExactlyInAnyOrder(
                List.of(7, "192.0.2.7"), List.of(2, "localhost"), List.of(7, "127.0.0.1"));
    }

    private static X509Certificate read(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /** Runs a TLS handshake between two engines in memory and returns the negotiated protocol. */
    private static String handshake(SslContext serverContext, SslContext clientContext, String host) throws Exception {
        SSLEngine server = serverContext.newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine client = clientContext.newEngine(ByteBufAllocator.DEFAULT, host, 25);
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer toServer = ByteBuffer.allocate(client.getSession().getPacketBufferSize());
        ByteBuffer toClient = ByteBuffer.allocate(server.getSession().getPacketBufferSize());
        ByteBuffer sink = ByteBuffer.allocate(Math.max(client.getSession().getApplicationBufferSize(),
                server.getSession().getApplicationBufferSize()));
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 100 && !(finished(client) && finished(server)); round++) {
            step(client, toServer, toClient, empty, sink);
            step(server, toClient, toServer, empty, sink);
        }
        assertThat(finished(client) && finished(server)).as("handshake finished").isTrue();
        return client.getSession().getProtocol();
    }

    private static boolean finished(SSLEngine engine) {
        HandshakeStatus s = engine.getHandshakeStatus();
        return s == HandshakeStatus.NOT_HANDSHAKING || s == HandshakeStatus.FINISHED;
    }

    /** Lets one engine write what it has to its peer and read what its peer wrote. */
    private static void step(SSLEngine engine, ByteBuffer out, ByteBuffer in, ByteBuffer empty, ByteBuffer sink)
            throws Exception {
        engine.wrap(empty, out);
        in.flip();
        engine.unwrap(in, sink);
        in.compact();
        sink.clear();
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
