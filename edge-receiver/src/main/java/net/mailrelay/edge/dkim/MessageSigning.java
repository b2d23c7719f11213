package net.mailrelay.edge.dkim;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import net.mailrelay.edge.EdgeMetrics;
import net.mailrelay.protocol.dkim.DkimKeys;
import net.mailrelay.protocol.dkim.DkimSigner;
import net.mailrelay.protocol.envelope.Envelope;
import net.mailrelay.protocol.record.RecordCodec;
import org.apache.james.mime4j.dom.address.MailboxList;
import org.apache.james.mime4j.field.address.LenientAddressParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DKIM at the edge, once per message before the publish, so that every worker and every retry sends the
 * same signed bytes. Who is signed: a client that has authenticated (narrowed, where
 * {@code dkim.user-domains} lists the user, to the domains given there) and, with
 * {@code dkim.sign-trusted-networks}, a client in {@code trusted-networks}. Mail that an untrusted client
 * relays in on the MX listener is never signed: the relay must not vouch for it.
 *
 * <p>The key is chosen by the domain of the RFC 5322 From address (DMARC aligns on it), which must be a
 * single mailbox. Signing runs on its own threads: an RSA signature costs a millisecond or more, which
 * the event loops must not spend.
 */
public final class MessageSigning implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MessageSigning.class);

    /** Who may have their mail signed. */
    public record Rules(boolean trustedNetworks, Map<String, Set<String>> userDomains) {
        public Rules {
            userDomains = Map.copyOf(userDomains);
        }
    }

    /**
     * The record value to publish, where its message begins in it, and the signatures added
     * ("d=example.org s=r1 a=rsa-sha256"), which its envelope records too.
     */
    public record Signed(byte[] value, int offset, List<String> signatures) {
        /** The size of the message as published, signatures included. */
        public long messageSize() {
            return (long) value.length - offset;
        }
    }

    private final DkimKeys keys;
    private final Rules rules;
    private final Clock clock;
    private final EdgeMetrics metrics;
    private final ExecutorService pool;

    public MessageSigning(DkimKeys keys, Rules rules, Clock clock, EdgeMetrics metrics) {
        this.keys = keys;
        this.rules = rules;
        this.clock = clock;
        this.metrics = metrics;
        // A pool even without keys: queue reload-dkim may bring the first ones. Its threads start when used.
        AtomicInteger n = new AtomicInteger();
        pool = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()), r -> {
            Thread t = new Thread(r, "dkim-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        if (!keys.isEmpty()) {
            metrics.dkimMeters();
            keys.domains().forEach(d -> LOG.info("dkim: signing mail from {} with {}", d, keys.forDomain(d).stream()
                    .map(s -> "s=" + s.selector() + " (" + s.algorithm().tag() + ")").toList()));
        }
    }

    public static MessageSigning none() {
        return new MessageSigning(DkimKeys.none(), new Rules(false, Map.of()), Clock.systemUTC(), EdgeMetrics.none());
    }

    /**
     * The value to publish: unchanged, at once, when the message is not to be signed; otherwise, on a
     * signing thread, with the DKIM-Signature fields put in front of the message at {@code offset}.
     */
    public CompletionStage<Signed> sign(Envelope envelope, boolean trustedClient, byte[] value, int offset) {
        if (keys.isEmpty() || !(envelope.authenticatedAs() != null || (trustedClient && rules.trustedNetworks()))) {
            return CompletableFuture.completedFuture(new Signed(value, offset, List.of()));
        }
        return CompletableFuture.supplyAsync(() -> signNow(envelope, value, offset), pool);
    }

    private Signed signNow(Envelope envelope, byte[] value, int offset) {
        String domain = fromDomain(value, offset);
        List<DkimSigner> signers = domain == null ? List.of() : keys.forFromDomain(domain);
        String user = envelope.authenticatedAs();
        Set<String> allowed = user == null ? null : rules.userDomains().get(user);
        // A user given a domain may sign as it, and so for its subdomains where dkim.subdomains lets it.
        if (domain == null || signers.isEmpty()
                || (allowed != null && !allowed.contains(domain) && !allowed.contains(signers.get(0).domain()))) {
            String reason = domain == null ? "no_from" : signers.isEmpty() ? "no_key" : "not_permitted";
            metrics.dkimUnsigned(reason);
            if (reason.equals("not_permitted")) {
                LOG.info("{}: dkim: not signed: user {} may not sign as {}", envelope.queueId(), user, domain);
            }
            return new Signed(value, offset, List.of());
        }
        Set<String> present = presentSignatures(value, offset);
        long now = clock.instant().getEpochSecond();
        StringBuilder fields = new StringBuilder();
        List<String> added = new ArrayList<>();
        for (DkimSigner s : signers) {
            if (present.contains(s.domain() + " " + s.selector())) {
                // Signed already with this key, by this relay on an earlier pass or by the client itself.
                metrics.dkimUnsigned("already_signed");
                LOG.info("{}: dkim: not signed again: the message carries a signature by d={} s={}", envelope.queueId(),
                        s.domain(), s.selector());
                continue;
            }
            fields.append(s.sign(value, offset, now));
            String algorithm = s.algorithm().tag();
            added.add("d=" + s.domain() + " s=" + s.selector() + " a=" + algorithm);
            metrics.dkimSigned(algorithm);
        }
        if (added.isEmpty()) {
            return new Signed(value, offset, List.of());
        }
        byte[] head = RecordCodec.head(envelope.signedWith(added));
        byte[] signatures = fields.toString().getBytes(StandardCharsets.US_ASCII);
        int message = value.length - offset;
        byte[] out = new byte[head.length + signatures.length + message];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(signatures, 0, out, head.length, signatures.length);
        System.arraycopy(value, offset, out, head.length + signatures.length, message);
        LOG.info("{}: dkim: signed: {}", envelope.queueId(), String.join(", ", added));
        return new Signed(out, head.length, added);
    }

    /**
     * The domains and selectors ("d s", domain in lower case) of the DKIM-Signature fields the message
     * carries. A field whose tags cannot be read counts for nothing: it is the verifier's to judge.
     */
    static Set<String> presentSignatures(byte[] value, int offset) {
        Set<String> out = new java.util.HashSet<>();
        for (String field : DkimSigner.fieldValues(value, offset, "dkim-signature")) {
            String d = null;
            String sel = null;
            for (String tag : field.split(";")) {
                int eq = tag.indexOf('=');
                if (eq < 0) {
                    continue;
                }
                String name = tag.substring(0, eq).replaceAll("[ \t\r\n]", "");
                String v = tag.substring(eq + 1).replaceAll("[ \t\r\n]", "");
                if (name.equals("d")) {
                    d = v.toLowerCase(Locale.ROOT);
                } else if (name.equals("s")) {
                    sel = v;
                }
            }
            if (d != null && sel != null) {
                out.add(d + " " + sel);
            }
        }
        return out;
    }

    /** The domain of the one From mailbox, lower case; null when there is not exactly one (RFC 5322 3.6.2). */
    static String fromDomain(byte[] value, int offset) {
        List<String> from = DkimSigner.fieldValues(value, offset, "from");
        if (from.size() != 1) {
            return null;
        }
        MailboxList boxes = LenientAddressParser.DEFAULT.parseAddressList(from.get(0).replace("\r\n", "")).flatten();
        if (boxes.size() != 1 || boxes.get(0).getDomain() == null || boxes.get(0).getDomain().isBlank()) {
            return null;
        }
        return boxes.get(0).getDomain().toLowerCase(Locale.ROOT);
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
