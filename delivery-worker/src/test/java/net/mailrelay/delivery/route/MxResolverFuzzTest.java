package net.mailrelay.delivery.route;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.EDNSOption;
import org.xbill.DNS.Flags;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.Section;
import org.xbill.DNS.TSIG;

/**
 * Coverage-guided fuzz target (Jazzer) for the DNS answers the worker acts on: every query is answered
 * from the fuzzer's data, either as raw wire bytes (dnsjava's parser) or as a well-formed message with
 * any rcode and any mix of MX, A, AAAA and CNAME records, names and preferences (null MX, loops, MX
 * pointing at nothing). Routing always ends in targets on the MX port or in a failure with a status
 * and a printable reason.
 */
class MxResolverFuzzTest {

    static final String[] NAMES = {"fuzz.test.", "mx1.fuzz.test.", "mx2.fuzz.test.", ".", "a.b.", "fuzz.test.fuzz.test."};

    @FuzzTest
    void answers(FuzzedDataProvider data) {
        MxResolver resolver = new MxResolver(new FuzzResolver(data), 0, 5, 2525);
        Resolution r = resolver.resolve("fuzz.test");
        if (r instanceof Resolution.Targets t) {
            assertThat(t.targets()).isNotEmpty().hasSizeLessThanOrEqualTo(5);
            t.targets().forEach(target -> assertThat(target.address().getPort()).isEqualTo(2525));
        } else {
            Resolution.Failure f = (Resolution.Failure) r;
            assertThat(f.status()).isNotNull();
            assertThat(f.text()).isNotBlank().doesNotContain("\r", "\n");
        }
    }

    /** Answers each query from the fuzzer's data. */
    static final class FuzzResolver implements Resolver {
        private final FuzzedDataProvider data;

        FuzzResolver(FuzzedDataProvider data) {
            this.data = data;
        }

        @Override
        public CompletionStage<Message> sendAsync(Message query, Executor executor) {
            try {
                return CompletableFuture.completedFuture(answer(query));
            } catch (IOException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public CompletionStage<Message> sendAsync(Message query) {
            return sendAsync(query, Runnable::run);
        }

        private Message answer(Message query) throws IOException {
            if (data.consumeInt(0, 7) == 0) {
                Message raw = new Message(data.consumeBytes(data.consumeInt(0, 512)));
                raw.getHeader().setID(query.getHeader().getID());
                return raw;
            }
            Message m = new Message(query.getHeader().getID());
            m.getHeader().setFlag(Flags.QR);
            m.getHeader().setRcode(data.pickValue(new int[] {0, 0, 0, 2, 3, 5}));
            Record question = query.getQuestion();
            m.addRecord(question, Section.QUESTION);
            int n = data.consumeInt(0, 6);
            for (int i = 0; i < n; i++) {
                Name owner = data.consumeBoolean() ? question.getName() : name();
                long ttl = data.consumeLong(0, 86400);
                int type = data.consumeInt(0, 3);
                Record rec = type == 0 ? new MXRecord(owner, DClass.IN, ttl, data.consumeInt(0, 65535), name())
                        : type == 1 ? new ARecord(owner, DClass.IN, ttl, address(4))
                        : type == 2 ? new AAAARecord(owner, DClass.IN, ttl, address(16))
                        : new CNAMERecord(owner, DClass.IN, ttl, name());
                m.addRecord(rec, Section.ANSWER);
            }
            return m;
        }

        private Name name() throws IOException {
            return Name.fromString(data.pickValue(NAMES));
        }

        private InetAddress address(int length) throws UnknownHostException {
            byte[] b = data.consumeBytes(length);
            return InetAddress.getByAddress(b.length == length ? b : new byte[length]);
        }

        @Override
        public Duration getTimeout() {
            return Duration.ofSeconds(1);
        }

        @Override
        public void setPort(int port) {
        }

        @Override
        public void setTCP(boolean flag) {
        }

        @Override
        public void setIgnoreTruncation(boolean flag) {
        }

        @Override
        public void setEDNS(int version, int payloadSize, int flags, List<EDNSOption> options) {
        }

        @Override
        public void setTSIGKey(TSIG key) {
        }

        @Override
        public void setTimeout(Duration timeout) {
        }
    }
}
