package net.mailrelay.bounce.dsn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Each golden notice read by an independent, external parser: Python's email package, as a mail client
 * or a bounce processor would. It must see a multipart/report of the right report-type without
 * defects, and find every recipient's Final-Recipient, Action and Status in the status part.
 */
class PythonEmailParserTest {

    // Python parses message/delivery-status into one header block per group of fields. It knows no
    // message/global-delivery-status, and reads it like message/rfc822: a message whose header is the
    // per-message block and whose body holds the recipient blocks, which are parsed here from the
    // body's bytes. Non-ASCII header bytes come through as surrogate escapes; fix() makes them text.
    private static final String SCRIPT = """
            import email, email.policy, re, sys

            def fix(s):
                return s.encode('utf-8', 'surrogateescape').decode('utf-8')

            msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
            if msg.get_content_type() != 'multipart/report':
                sys.exit('not a multipart/report: ' + msg.get_content_type())
            report_type = msg.get_param('report-type')
            if report_type not in ('delivery-status', 'global-delivery-status'):
                sys.exit('unexpected report-type: ' + str(report_type))
            out = ['report-type: ' + report_type]
            for part in msg.iter_parts():
                ctype = part.get_content_type()
                out.append('part: ' + ctype)
                if ctype == 'message/delivery-status':
                    blocks = part.get_payload()
                elif ctype == 'message/global-delivery-status':
                    inner = part.get_payload(0)
                    body = inner.get_payload(decode=True).decode('utf-8')
                    blocks = [inner] + [email.message_from_string(b, policy=email.policy.default)
                                        for b in re.split(r'\\r?\\n\\r?\\n', body) if b.strip()]
                else:
                    continue
                if 'Reporting-MTA' not in blocks[0]:
                    sys.exit('no Reporting-MTA in the per-message block')
                for block in blocks[1:]:
                    out.append('recipient')
                    out.extend(name + ': ' + fix(str(value)) for name, value in block.items())
            defects = [(p.get_content_type(), type(d).__name__) for p in msg.walk() for d in p.defects]
            if defects:
                sys.exit('defects: ' + repr(defects))
            sys.stdout.buffer.write(('\\n'.join(out) + '\\n').encode('utf-8'))
            """;

    @ParameterizedTest
    @EnumSource(GoldenDsn.class)
    void pythonReadsItAsADeliveryReport(GoldenDsn golden) throws Exception {
        List<String> lines = python(golden.golden());

        assertThat(lines).startsWith("report-type: " + golden.reportType);
        assertThat(lines).filteredOn(l -> l.startsWith("part: "))
                .containsExactly("part: text/plain", "part: " + golden.statusType(), "part: " + golden.returnedType);
        List<String> printed = lines.stream()
                .filter(l -> l.equals("recipient") || l.startsWith("Final-Recipient: ") || l.startsWith("Action: ")
                        || l.startsWith("Status: "))
                .toList();
        List<String> expected = new ArrayList<>();
        for (GoldenDsn.Expected r : golden.recipients) {
            expected.addAll(List.of("recipient", "Final-Recipient: " + r.finalRecipient(), "Action: " + r.action(),
                    "Status: " + r.status()));
        }
        assertThat(printed).containsExactlyElementsOf(expected);
    }

    /** Runs the script on the notice; its output lines. */
    private static List<String> python(byte[] dsn) throws IOException, InterruptedException {
        Process process;
        try {
            // -I: isolated from the user's site packages and PYTHON* variables.
            process = new ProcessBuilder("python3", "-I", "-c", SCRIPT).start();
        } catch (IOException e) {
            return fail("this test needs python3 on the PATH (it reads the notices with Python's email package,"
                    + " an independent parser; the CI machines have it): " + e.getMessage());
        }
        try (OutputStream in = process.getOutputStream()) {
            in.write(dsn);
        }
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("python3 did not finish within 60 s");
        }
        assertThat(process.exitValue()).as("python3 exit status; stderr:%n%s", err).isZero();
        return out.lines().toList();
    }
}
