package net.mailrelay.delivery.smtp;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.file.Path;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * The client's TLS contexts: TLS 1.2 and 1.3. For {@link TlsPolicy#OPPORTUNISTIC} and
 * {@link TlsPolicy#REQUIRED} any certificate is accepted (encryption against passive listeners, as
 * Postfix's "may" and "encrypt"); for {@link TlsPolicy#VERIFY} the chain must lead to a trusted CA (the
 * JDK's, or those in a PEM file) and the certificate must name the server's host name.
 */
public final class ClientTls {

    private final SslContext unverified;
    private final SslContext verified;

    /** @param trustedCertificates a PEM file of CA certificates, or null for the JDK's trust store */
    public ClientTls(Path trustedCertificates) throws SSLException {
        unverified = SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2")
                .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
        SslContextBuilder v = SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2");
        if (trustedCertificates != null) {
            v.trustManager(trustedCertificates.toFile());
        }
        verified = v.build();
    }

    SslHandler handler(TlsPolicy policy, ByteBufAllocator alloc, String host, int port) {
        if (policy != TlsPolicy.VERIFY) {
            return unverified.newHandler(alloc, host, port);
        }
        SSLEngine engine = verified.newEngine(alloc, host, port);
        SSLParameters p = engine.getSSLParameters();
        // RFC 6125 name checks against the MX host name, as Postfix's "verify" level does.
        p.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(p);
        return new SslHandler(engine);
    }
}
