package net.mailrelay.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Date;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;

/**
 * A remote MX for tests: a real SMTP server on a port of 127.0.0.1 that records every message it
 * accepts. A {@link Mode} makes a whole connection misbehave, as okhttp's {@code SocketPolicy} does;
 * recipients decide their own fate, as KumoMTA's magic recipients do:
 * <ul>
 *   <li>{@code permfail...@} gets {@code 550 5.1.1} at RCPT;</li>
 *   <li>{@code tempfail...@} gets {@code 451 4.3.0} at RCPT, every time;</li>
 *   <li>{@code flaky...@} gets {@code 451 4.3.0} the first time it is offered, {@code 250} afterwards;</li>
 *   <li>{@code disconnect-in-rcpt...@} gets no reply: the server closes the connection;</li>
 *   <li>anything else is accepted, unless {@link #replyToRecipient} scripted it otherwise.</li>
 * </ul>
 * The EHLO extensions (PIPELINING, SIZE, STARTTLS, AUTH, 8BITMIME, SMTPUTF8) are switched by fluent setters.
 * Mode and setters take effect for connections accepted afterwards; a connection keeps what it started with.
 */
public final class FakeMx extends TestServer {

    /** How the server treats a whole connection. */
    public enum Mode {
        NORMAL,
        /** Accepts the TCP connection, then closes it without sending a byte. */
        DROP_AT_CONNECT,
        /** Greets with {@code 421 4.3.2} and closes (RFC 5321 section 3.8). */
        GREET_421,
        /** Greets with {@code 554 5.7.1}, then answers QUIT with 221 and anything else with 503 (RFC 5321 section 3.1). */
        GREET_554,
        /** A pre-ESMTP server: EHLO gets {@code 502 5.5.2}, HELO works. */
        NO_EHLO,
        /** Greets, then reads every command and never answers. */
        STALL_AFTER_GREETING,
        /** Behaves until the end of DATA, reads the whole message, then never answers the final dot. */
        STALL_AFTER_DATA,
        /** After 354, reads one line of content and closes the connection. */
        DISCONNECT_DURING_DATA,
        /** Offers STARTTLS, answers {@code 220 2.0.0 Ready}, then sends bytes that are not TLS and closes. */
        BROKEN_TLS
    }

    /**
     * One accepted message: the envelope as the MX saw it and the data with dot-stuffing undone.
     *
     * @param tls the TLS protocol the message came over ("TLSv1.3"), null over plaintext
     * @param authUser the user the client authenticated as, null if it did not
     */
    public record Delivery(String heloName, String mailFrom, List<String> recipients, byte[] data, String tls,
                           String authUser) {

        public Delivery(String heloName, String mailFrom, List<String> recipients, byte[] data) {
            this(heloName, mailFrom, recipients, data, null, null);
        }

        public String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    private record Credentials(String user, String password) {
    }

    /** What a connection was accepted with; later setter calls do not change it. */
    private record Settings(Mode mode, boolean pipelining, boolean eightBitMime, boolean smtpUtf8, long sizeLimit,
                            boolean startTls, Credentials credentials, boolean dsn) {
    }

    private record Identity(X509Certificate certificate, SSLContext context) {
    }

    /** One key and certificate per server name for the whole JVM: EC key generation is not free. */
    private static final Map<String, Identity> IDENTITIES = new ConcurrentHashMap<>();

    private final String name;
    private final InetAddress bindAddress;
    private final int bindPort;
    // Synchronized lists, not copy-on-write: a long run adds millions of commands, and copying the whole
    // array on each add made the fault suite's MX the bottleneck.
    private final List<Delivery> deliveries = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Deque<String>> scripted = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> offers = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger maxOpen = new AtomicInteger();
    private final List<AtomicInteger> transactions = Collections.synchronizedList(new ArrayList<>());
    /** {end of the connection, time of a 250 to a final dot on it} for connections that ended without QUIT (nanoTime). */
    private final List<long[]> cutOff = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger pipeliningViolations = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile Mode mode = Mode.NORMAL;
    private volatile boolean pipelining = true;
    private volatile boolean eightBitMime = true;
    private volatile boolean smtpUtf8 = true;
    private volatile long sizeLimit;
    private volatile boolean startTls;
    private volatile boolean dsn;
    private volatile java.time.Duration finalDotDelay = java.time.Duration.ZERO;
    private volatile java.time.Duration replyDelay = java.time.Duration.ZERO;
    private final List<String> commands = Collections.synchronizedList(new ArrayList<>());
    private volatile Credentials credentials;
    private volatile String tlsProtocolSeen;
    private ServerSocket server;
    private ExecutorService threads;

    public FakeMx() {
        this("mx.fake.test");
    }

    public FakeMx(String name) {
        this(name, InetAddress.getLoopbackAddress(), 0);
    }

    /** A server on a chosen loopback address and port, e.g. 127.0.0.3, to stand for one MX host of several. */
    public FakeMx(String name, InetAddress bindAddress, int bindPort) {
        this.name = name;
        this.bindAddress = bindAddress;
        this.bindPort = bindPort;
    }

    /** Replies to give at RCPT for this address, in order; the last one repeats. */
    public FakeMx replyToRecipient(String address, String... replies) {
        scripted.put(address.toLowerCase(Locale.ROOT), new ArrayDeque<>(List.of(replies)));
        return this;
    }

    public FakeMx mode(Mode m) {
        this.mode = m;
        return this;
    }

    /**
     * Closes every open connection, as an MX that restarts does: with {@link #mode}, a change of behaviour
     * that also reaches clients holding a connection open for reuse.
     */
    public FakeMx closeConnections() {
        sockets.forEach(FakeMx::closeQuietly);
        return this;
    }

    /** Whether EHLO offers PIPELINING (default true). Pipelined commands are answered in order either way. */
    public FakeMx pipelining(boolean on) {
        this.pipelining = on;
        return this;
    }

    /** Whether EHLO offers 8BITMIME (default true); when off, MAIL with BODY=8BITMIME gets 555. */
    public FakeMx eightBitMime(boolean on) {
        this.eightBitMime = on;
        return this;
    }

    /** Whether EHLO offers SMTPUTF8 (default true); when off, MAIL with SMTPUTF8 gets 555. */
    public FakeMx smtpUtf8(boolean on) {
        this.smtpUtf8 = on;
        return this;
    }

    /** Whether EHLO offers DSN, RFC 3461 (default false); when off, NOTIFY, ORCPT, RET and ENVID get 555. */
    public FakeMx dsn(boolean on) {
        this.dsn = on;
        return this;
    }

    /** Every command line received, in order, across all connections. */
    /** Waits this long before answering the final dot, as a slow content filter does. */
    /** Holds every reply back this long, as a far-away server's round trip would (where the kernel has no netem). */
    public FakeMx replyDelay(java.time.Duration d) {
        this.replyDelay = d;
        return this;
    }

    public FakeMx finalDotDelay(java.time.Duration d) {
        this.finalDotDelay = d;
        return this;
    }

    public List<String> commandsSeen() {
        return List.copyOf(commands);
    }

    /** 0 (the default) offers no SIZE; otherwise EHLO offers {@code SIZE n} and bigger messages get 552 5.3.4. */
    public FakeMx sizeLimit(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("size limit must be 0 or more, was " + bytes);
        }
        this.sizeLimit = bytes;
        return this;
    }

    /** Whether EHLO offers STARTTLS (default false), with the certificate of {@link #certificate()}. */
    public FakeMx startTls(boolean on) {
        this.startTls = on;
        return this;
    }

    /**
     * Offers AUTH PLAIN LOGIN (after STARTTLS when {@link #startTls} is on) and requires it: MAIL before a
     * successful AUTH gets {@code 530 5.7.0}.
     */
    public FakeMx auth(String user, String password) {
        this.credentials = new Credentials(user, password);
        return this;
    }

    public int port() {
        return server.getLocalPort();
    }

    public String hostPort() {
        return server.getInetAddress().getHostAddress() + ":" + port();
    }

    public List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    /** How many messages arrived, without copying them. */
    public int deliveryCount() {
        return deliveries.size();
    }

    public List<Delivery> deliveriesTo(String recipient) {
        return deliveries().stream().filter(d -> d.recipients().contains(recipient)).toList();
    }

    /** How many times RCPT TO was given for this address, in any connection. */
    public int timesOffered(String recipient) {
        AtomicInteger n = offers.get(recipient.toLowerCase(Locale.ROOT));
        return n == null ? 0 : n.get();
    }

    public int connectionCount() {
        return connections.get();
    }

    public int maxConcurrentConnections() {
        return maxOpen.get();
    }

    /** How many messages each connection carried, in the order the connections were accepted. */
    public List<Integer> transactionsPerConnection() {
        return List.copyOf(transactions).stream().map(AtomicInteger::get).toList();
    }

    /**
     * Messages given a {@code 250} on a connection that then ended without QUIT (its client died, or
     * dropped it), at most {@code within} before it ended: the deliveries that were in the SMTP
     * conversation when the client went away, whose sender may not have recorded the 250.
     */
    public int deliveriesCutOff(java.time.Duration within) {
        synchronized (cutOff) {
            return (int) cutOff.stream().filter(c -> c[1] >= c[0] - within.toNanos()).count();
        }
    }

    /** Commands that arrived before the previous reply while PIPELINING was not offered (RFC 2920 section 3.1). */
    public int pipeliningViolations() {
        return pipeliningViolations.get();
    }

    /** The TLS protocol of the latest STARTTLS handshake, null if there was none. */
    public String tlsProtocolSeen() {
        return tlsProtocolSeen;
    }

    /** This server's certificate, for a client trust store that trusts exactly this server. */
    public X509Certificate certificate() {
        return certificateFor(name);
    }

    /**
     * The self-signed certificate every FakeMx named {@code name} presents in this JVM. Its subject
     * alternative names are {@code name}, localhost and 127.0.0.1.
     */
    public static X509Certificate certificateFor(String name) {
        return identity(name).certificate();
    }

    @Override
    protected void startServer() throws IOException {
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(bindAddress, bindPort));
        threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-mx-" + name);
            t.setDaemon(true);
            return t;
        });
        threads.execute(this::acceptLoop);
    }

    @Override
    protected void stopServer() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.forEach(FakeMx::closeQuietly);
        threads.shutdownNow();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                connections.incrementAndGet();
                maxOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
                sockets.add(s);
                AtomicInteger carried = new AtomicInteger();
                transactions.add(carried);
                Session session = new Session(s, new Settings(mode, pipelining, eightBitMime, smtpUtf8, sizeLimit,
                        startTls, credentials, dsn), carried);
                threads.execute(() -> {
                    try {
                        session.converse();
                    } catch (IOException e) {
                        // the client went away, or its TLS handshake failed
                    } finally {
                        session.close();
                        session.endedWithoutQuit();
                        open.decrementAndGet();
                        sockets.remove(s);
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    /** A recipient's RCPT reply, or null to hang up without one. */
    private String recipientReply(String rcpt) {
        String key = rcpt.toLowerCase(Locale.ROOT);
        int offered = offers.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        Deque<String> script = scripted.get(key);
        if (script != null) {
            synchronized (script) {
                return script.size() > 1 ? script.poll() : script.peek();
            }
        }
        if (key.startsWith("disconnect-in-rcpt")) {
            return null;
        }
        if (key.startsWith("permfail")) {
            return "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown";
        }
        if (key.startsWith("tempfail") || (key.startsWith("flaky") && offered == 1)) {
            return "451 4.3.0 <" + rcpt + ">: Temporary lookup failure";
        }
        return "250 2.1.5 Ok";
    }

    /** One connection's conversation; runs on its own thread, so its state needs no locking. */
    private final class Session {

        private final Socket raw;
        private final Settings settings;
        private final AtomicInteger carried;
        private final List<String> rcpts = new ArrayList<>();
        private Socket socket;
        private InputStream in;
        private OutputStream out;
        private String tls;
        private String helo;
        private String from;
        private String user;
        private final List<Long> accepted = new ArrayList<>();
        private boolean quit;

        Session(Socket raw, Settings settings, AtomicInteger carried) {
            this.raw = raw;
            this.socket = raw;
            this.settings = settings;
            this.carried = carried;
        }

        /** Notes the 250s of a connection that ended without QUIT, for {@link #deliveriesCutOff}. */
        void endedWithoutQuit() {
            if (!quit && !accepted.isEmpty()) {
                long end = System.nanoTime();
                accepted.forEach(t -> cutOff.add(new long[] {end, t}));
            }
        }

        void converse() throws IOException {
            use(raw);
            switch (settings.mode()) {
                case DROP_AT_CONNECT -> {
                    return;
                }
                case GREET_421 -> {
                    reply("421 4.3.2 Service shutting down");
                    return;
                }
                case GREET_554 -> {
                    refuseService();
                    return;
                }
                default -> reply("220 " + name + " ESMTP fake");
            }
            if (settings.mode() == Mode.STALL_AFTER_GREETING) {
                drain();
                return;
            }
            String line;
            while ((line = nextCommand()) != null) {
                if (!command(line)) {
                    return;
                }
            }
        }

        /** Answers one command; false when the conversation is over. */
        private boolean command(String line) throws IOException {
            commands.add(line);
            int space = line.indexOf(' ');
            String verb = (space < 0 ? line : line.substring(0, space)).toUpperCase(Locale.ROOT);
            String arg = space < 0 ? "" : line.substring(space + 1).trim();
            switch (verb) {
                case "EHLO" -> ehlo(arg);
                case "HELO" -> {
                    helo = arg;
                    reply("250 " + name);
                }
                case "STARTTLS" -> {
                    return startTls();
                }
                case "AUTH" -> auth(arg);
                case "MAIL" -> mail(line);
                case "RCPT" -> {
                    return rcpt(line);
                }
                case "DATA" -> {
                    return data();
                }
                case "RSET" -> {
                    rcpts.clear();
                    from = null;
                    reply("250 2.0.0 Ok");
                }
                case "NOOP" -> reply("250 2.0.0 Ok");
                case "QUIT" -> {
                    quit = true;
                    reply("221 2.0.0 Bye");
                    return false;
                }
                default -> reply("502 5.5.2 Error: command not recognized");
            }
            return true;
        }

        private void ehlo(String arg) throws IOException {
            if (settings.mode() == Mode.NO_EHLO) {
                reply("502 5.5.2 Error: command not recognized");
                return;
            }
            helo = arg;
            List<String> offered = new ArrayList<>(List.of(name));
            if (settings.pipelining()) {
                offered.add("PIPELINING");
            }
            if (settings.sizeLimit() > 0) {
                offered.add("SIZE " + settings.sizeLimit());
            }
            if (offersStartTls()) {
                offered.add("STARTTLS");
            }
            if (offersAuth()) {
                offered.add("AUTH PLAIN LOGIN");
            }
            if (settings.eightBitMime()) {
                offered.add("8BITMIME");
            }
            if (settings.smtpUtf8()) {
                offered.add("SMTPUTF8");
            }
            if (settings.dsn()) {
                offered.add("DSN");
            }
            offered.add("ENHANCEDSTATUSCODES");
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < offered.size(); i++) {
                boolean last = i == offered.size() - 1;
                text.append("250").append(last ? ' ' : '-').append(offered.get(i)).append(last ? "" : "\r\n");
            }
            reply(text.toString());
        }

        private boolean offersStartTls() {
            return tls == null && (settings.startTls() || settings.mode() == Mode.BROKEN_TLS);
        }

        private boolean offersAuth() {
            return settings.credentials() != null && (tls != null || !settings.startTls());
        }

        private boolean startTls() throws IOException {
            if (!offersStartTls()) {
                reply(tls != null ? "554 5.5.1 Error: TLS already active" : "502 5.5.2 Error: command not recognized");
                return true;
            }
            if (settings.mode() == Mode.BROKEN_TLS) {
                reply("220 2.0.0 Ready");
                breakHandshake();
                return false;
            }
            reply("220 2.0.0 Ready to start TLS");
            SSLSocket ssl = (SSLSocket) identity(name).context().getSocketFactory()
                    .createSocket(raw, raw.getInetAddress().getHostAddress(), raw.getPort(), true);
            ssl.setUseClientMode(false);
            ssl.startHandshake();
            // RFC 3207 section 4.2: forget what the client said before TLS, including any bytes it sent
            // after STARTTLS (use() drops the old buffer), and expect a new EHLO.
            use(ssl);
            tls = ssl.getSession().getProtocol();
            tlsProtocolSeen = tls;
            helo = null;
            from = null;
            user = null;
            rcpts.clear();
            return true;
        }

        /** Reads the ClientHello first, so that closing afterwards does not reset the connection before the garbage. */
        private void breakHandshake() throws IOException {
            raw.setSoTimeout(2_000);
            try {
                in.read(new byte[16_384]);
            } catch (SocketTimeoutException e) {
                // no handshake came; send the garbage anyway
            }
            out.write("this is not a TLS handshake\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        private void auth(String arg) throws IOException {
            if (!offersAuth()) {
                reply(settings.credentials() != null
                        ? "538 5.7.11 Encryption required for requested authentication mechanism"
                        : "503 5.5.1 Error: authentication not enabled");
                return;
            }
            if (user != null || from != null) {
                reply("503 5.5.1 Error: " + (user != null ? "already authenticated" : "MAIL transaction in progress"));
                return;
            }
            String[] words = arg.split("\\s+", 2);
            String mechanism = words[0].toUpperCase(Locale.ROOT);
            String initial = words.length > 1 ? words[1].trim() : null;
            String[] login;
            try {
                if (mechanism.equals("PLAIN")) {
                    // RFC 4616: authzid NUL authcid NUL passwd
                    String[] f = decode(initial != null ? initial : challenge("")).split("\0", -1);
                    login = f.length == 3 ? new String[] {f[1], f[2]} : new String[] {"", ""};
                } else if (mechanism.equals("LOGIN")) {
                    String u = decode(initial != null ? initial : challenge("VXNlcm5hbWU6"));
                    login = new String[] {u, decode(challenge("UGFzc3dvcmQ6"))};
                } else {
                    reply("504 5.5.4 Unrecognized authentication type");
                    return;
                }
            } catch (AuthAborted e) {
                reply(e.getMessage());
                return;
            }
            Credentials c = settings.credentials();
            if (c.user().equals(login[0]) && c.password().equals(login[1])) {
                user = login[0];
                reply("235 2.7.0 Authentication successful");
            } else {
                reply("535 5.7.8 Error: authentication failed");
            }
        }

        private String challenge(String base64) throws IOException {
            reply("334 " + base64);
            byte[] line = readLine(in);
            if (line == null) {
                throw new EOFException("client left during AUTH");
            }
            String response = new String(line, StandardCharsets.US_ASCII).trim();
            if (response.equals("*")) {
                throw new AuthAborted("501 5.7.0 Authentication aborted"); // RFC 4954 section 4
            }
            return response;
        }

        private void mail(String line) throws IOException {
            if (settings.credentials() != null && user == null) {
                reply("530 5.7.0 Authentication required");
                return;
            }
            String refusal = parameterRefusal(line.substring(line.indexOf('>') + 1));
            if (refusal != null) {
                reply(refusal);
                return;
            }
            from = between(line, '<', '>');
            rcpts.clear();
            reply("250 2.1.0 Ok");
        }

        /**
         * Parameters of an extension that was switched off get 555 (RFC 5321 section 4.1.1.11). SIZE without a
         * limit is let through: the server always took it before SIZE could be switched on.
         */
        private String parameterRefusal(String parameters) {
            for (String p : parameters.trim().split("\\s+")) {
                String upper = p.toUpperCase(Locale.ROOT);
                if (upper.startsWith("SIZE=") && settings.sizeLimit() > 0) {
                    try {
                        if (Long.parseLong(upper.substring(5)) > settings.sizeLimit()) {
                            return "552 5.3.4 Message size exceeds fixed limit"; // RFC 1870 section 6.1
                        }
                    } catch (NumberFormatException e) {
                        return "501 5.5.4 Bad SIZE parameter: " + p;
                    }
                } else if (upper.equals("BODY=8BITMIME") && !settings.eightBitMime()
                        || upper.equals("SMTPUTF8") && !settings.smtpUtf8()
                        || !settings.dsn() && (upper.startsWith("NOTIFY=") || upper.startsWith("ORCPT=")
                                || upper.startsWith("RET=") || upper.startsWith("ENVID="))) {
                    return "555 5.5.4 Unsupported option: " + p;
                }
            }
            return null;
        }

        private boolean rcpt(String line) throws IOException {
            if (from == null) {
                reply("503 5.5.1 Error: need MAIL command");
                return true;
            }
            String rcpt = between(line, '<', '>');
            String refused = parameterRefusal(line.substring(line.indexOf('>') + 1));
            if (refused != null) {
                reply(refused);
                return true;
            }
            String answer = recipientReply(rcpt);
            if (answer == null) {
                return false;
            }
            if (answer.startsWith("2")) {
                rcpts.add(rcpt);
            }
            reply(answer);
            return true;
        }

        private boolean data() throws IOException {
            if (rcpts.isEmpty()) {
                reply("554 5.5.1 Error: no valid recipients");
                return true;
            }
            reply("354 End data with <CR><LF>.<CR><LF>");
            if (settings.mode() == Mode.DISCONNECT_DURING_DATA) {
                readLine(in);
                return false;
            }
            byte[] data = readData(in);
            if (data == null) {
                return false;
            }
            if (settings.mode() == Mode.STALL_AFTER_DATA) {
                drain();
                return false;
            }
            Delivery delivery = new Delivery(helo, from, List.copyOf(rcpts), data, tls, user);
            rcpts.clear();
            from = null;
            if (settings.sizeLimit() > 0 && data.length > settings.sizeLimit()) {
                reply("552 5.3.4 Error: message file too big");
                return true;
            }
            if (!finalDotDelay.isZero()) {
                try {
                    Thread.sleep(finalDotDelay.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            deliveries.add(delivery);
            carried.incrementAndGet();
            accepted.add(System.nanoTime());
            reply("250 2.0.0 Ok: queued");
            return true;
        }

        private void refuseService() throws IOException {
            reply("554 5.7.1 " + name + " No SMTP service here");
            String line;
            while ((line = nextCommand()) != null) {
                if (line.toUpperCase(Locale.ROOT).startsWith("QUIT")) {
                    reply("221 2.0.0 Bye");
                    return;
                }
                reply("503 5.5.1 Error: no SMTP service here");
            }
        }

        /** Reads and ignores everything until the client leaves. */
        private void drain() throws IOException {
            while (readLine(in) != null) {
                // never answered
            }
        }

        private String nextCommand() throws IOException {
            byte[] line = readLine(in);
            if (line == null) {
                return null;
            }
            // Without PIPELINING a client must wait for each reply, so nothing may be buffered yet.
            if (!settings.pipelining() && in.available() > 0) {
                pipeliningViolations.incrementAndGet();
            }
            return new String(line, StandardCharsets.UTF_8).stripTrailing();
        }

        private void use(Socket s) throws IOException {
            socket = s;
            in = new BufferedInputStream(s.getInputStream());
            out = s.getOutputStream();
        }

        /** Each reply is written and flushed before the next command is read, so pipelined replies keep their order. */
        private void reply(String text) throws IOException {
            java.time.Duration delay = replyDelay;
            if (!delay.isZero()) {
                try {
                    Thread.sleep(delay.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                }
            }
            out.write((text + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        void close() {
            closeQuietly(socket);
            closeQuietly(raw);
        }
    }

    private static final class AuthAborted extends RuntimeException {
        AuthAborted(String reply) {
            super(reply, null, false, false);
        }
    }

    private static String decode(String base64) {
        if (base64.equals("=")) {
            return ""; // RFC 4954 section 4: an empty initial response
        }
        try {
            return new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new AuthAborted("501 5.5.2 Cannot decode response");
        }
    }

    private static Identity identity(String name) {
        return IDENTITIES.computeIfAbsent(name.toLowerCase(Locale.ROOT), FakeMx::selfSigned);
    }

    /** EC P-256, as deploy's SelfSignedCertificate: Bouncy Castle builds the certificate, the JDK signs and serves it. */
    private static Identity selfSigned(String name) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            KeyPair keys = generator.generateKeyPair();
            X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, name).build();
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject,
                    new BigInteger(127, new SecureRandom()).add(BigInteger.ONE), Date.from(now.minus(Duration.ofDays(1))),
                    Date.from(now.plus(Duration.ofDays(365))), subject, keys.getPublic());
            List<GeneralName> names = new ArrayList<>();
            names.add(new GeneralName(IPAddress.isValid(name) ? GeneralName.iPAddress : GeneralName.dNSName, name));
            names.add(new GeneralName(GeneralName.dNSName, "localhost"));
            names.add(new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(names.toArray(GeneralName[]::new)));
            X509Certificate certificate = new JcaX509CertificateConverter()
                    .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
            char[] password = "fake-mx".toCharArray();
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry(name, keys.getPrivate(), password, new Certificate[] {certificate});
            KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keyManagers.init(store, password);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers.getKeyManagers(), null, null);
            return new Identity(certificate, context);
        } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
            throw new IllegalStateException("cannot make a certificate for " + name, e);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private static String between(String line, char open, char close) {
        int a = line.indexOf(open);
        int b = line.indexOf(close, a + 1);
        return a < 0 || b < 0 ? "" : line.substring(a + 1, b);
    }

    /** Reads up to and including LF; null at end of stream. */
    private static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        int c;
        while ((c = in.read()) != -1) {
            line.write(c);
            if (c == '\n') {
                return line.toByteArray();
            }
        }
        return line.size() == 0 ? null : line.toByteArray();
    }

    /** Reads DATA up to the CRLF.CRLF terminator, undoing dot-stuffing (RFC 5321 section 4.5.2). */
    private static byte[] readData(InputStream in) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream(8192);
        while (true) {
            byte[] line = readLine(in);
            if (line == null) {
                return null;
            }
            if (line.length == 3 && line[0] == '.' && line[1] == '\r' && line[2] == '\n') {
                return data.toByteArray();
            }
            int skip = line.length > 0 && line[0] == '.' ? 1 : 0;
            data.write(line, skip, line.length - skip);
        }
    }
}
