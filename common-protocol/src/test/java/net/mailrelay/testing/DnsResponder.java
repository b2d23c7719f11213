package net.mailrelay.testing;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * A real DNS server on a UDP port of 127.0.0.1, answering from a zone the test fills in: MX, A and
 * AAAA records, and named failures (NXDOMAIN, SERVFAIL, no answer at all). Register it with
 * {@code @RegisterExtension}; it starts before and stops after the tests of its scope.
 */
public final class DnsResponder extends TestServer {

    private enum Failure { SERVFAIL, TIMEOUT }

    private static final long TTL = 60;
    private volatile long ttl = TTL;

    private final Map<Name, List<Record>> zone = new ConcurrentHashMap<>();
    private final Map<Name, Failure> failures = new ConcurrentHashMap<>();
    private final List<String> queries = Collections.synchronizedList(new ArrayList<>()); // millions in a long run
    private DatagramSocket socket;
    private Thread thread;
    private InetAddress bind = InetAddress.getLoopbackAddress();

    /** Listen on {@code address} instead of 127.0.0.1 (before it starts): for processes on hosts of their own. */
    public DnsResponder bindTo(InetAddress address) {
        this.bind = address;
        return this;
    }

    public DnsResponder mx(String domain, int preference, String host) {
        add(new MXRecord(name(domain), DClass.IN, ttl, preference, name(host)));
        return this;
    }

    /** The TTL of records added from now on (60 s unless set). */
    public DnsResponder ttl(long seconds) {
        this.ttl = seconds;
        return this;
    }

    /** How many times this name and type were asked for. */
    public long timesAsked(String name, String type) {
        String q = (name.endsWith(".") ? name : name + ".") + " " + type;
        return queries().stream().filter(q::equalsIgnoreCase).count();
    }

    /** An A record for an IPv4 address, or an AAAA record for an IPv6 one. */
    public DnsResponder address(String host, String ip) {
        try {
            InetAddress a = InetAddress.getByName(ip);
            add(a.getAddress().length == 4 ? new ARecord(name(host), DClass.IN, ttl, a)
                    : new AAAARecord(name(host), DClass.IN, ttl, a));
        } catch (IOException e) {
            throw new IllegalArgumentException(ip, e);
        }
        return this;
    }

    public DnsResponder servfail(String domain) {
        failures.put(name(domain), Failure.SERVFAIL);
        return this;
    }

    /** Queries for this name are read and never answered. */
    public DnsResponder silent(String domain) {
        failures.put(name(domain), Failure.TIMEOUT);
        return this;
    }

    public void clearFailure(String domain) {
        failures.remove(name(domain));
    }

    /** The questions asked so far, as "name TYPE". */
    public List<String> queries() {
        return List.copyOf(queries);
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(socket.getLocalAddress(), socket.getLocalPort());
    }

    /** host:port, as {@code --dns-server} takes it. */
    public String hostPort() {
        return socket.getLocalAddress().getHostAddress() + ":" + socket.getLocalPort();
    }

    @Override
    protected void startServer() throws SocketException {
        socket = new DatagramSocket(new InetSocketAddress(bind, 0));
        thread = new Thread(this::serve, "dns-responder");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    protected void stopServer() {
        socket.close();
    }

    private void serve() {
        byte[] buf = new byte[4096];
        while (!socket.isClosed()) {
            DatagramPacket packet = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(packet);
                Message query = new Message(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
                Message answer = answer(query);
                if (answer != null) {
                    byte[] wire = answer.toWire();
                    socket.send(new DatagramPacket(wire, wire.length, packet.getSocketAddress()));
                }
            } catch (IOException e) {
                if (socket.isClosed()) {
                    return;
                }
            }
        }
    }

    private Message answer(Message query) {
        Record question = query.getQuestion();
        if (question == null) {
            return null;
        }
        queries.add(question.getName() + " " + Type.string(question.getType()));
        Message response = new Message(query.getHeader().getID());
        response.getHeader().setFlag(Flags.QR);
        response.getHeader().setFlag(Flags.AA);
        if (query.getHeader().getFlag(Flags.RD)) {
            response.getHeader().setFlag(Flags.RD);
        }
        response.addRecord(question, Section.QUESTION);
        Failure failure = failures.get(question.getName());
        if (failure == Failure.TIMEOUT) {
            return null;
        }
        if (failure == Failure.SERVFAIL) {
            response.getHeader().setRcode(Rcode.SERVFAIL);
            return response;
        }
        List<Record> records = zone.get(question.getName());
        if (records == null) {
            response.getHeader().setRcode(Rcode.NXDOMAIN);
            return response;
        }
        for (Record r : records) {
            if (r.getType() == question.getType()) {
                response.addRecord(r, Section.ANSWER);
            }
        }
        return response;
    }

    private void add(Record r) {
        zone.computeIfAbsent(r.getName(), k -> new CopyOnWriteArrayList<>()).add(r);
    }

    private static Name name(String text) {
        try {
            return Name.fromString(text.endsWith(".") ? text : text + ".");
        } catch (TextParseException e) {
            throw new IllegalArgumentException(text, e);
        }
    }
}
