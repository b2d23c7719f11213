package net.mailrelay.edge.listener;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.nio.file.Path;
import java.util.List;
import javax.net.ssl.SSLException;

/** The server TLS context: TLS 1.2 and 1.3 only, forward-secret AEAD cipher suites only. */
public final class TlsContexts {

    static final List<String> CIPHERS = List.of(
            "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    private TlsContexts() {
    }

    /** From PEM files: the certificate chain and its unencrypted PKCS#8 private key. */
    public static SslContext server(Path certificateChain, Path privateKey) throws SSLException {
        return SslContextBuilder.forServer(certificateChain.toFile(), privateKey.toFile())
                .protocols("TLSv1.3", "TLSv1.2")
                .ciphers(CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                .build();
    }
}
