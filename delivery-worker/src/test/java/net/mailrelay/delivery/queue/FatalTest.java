package net.mailrelay.delivery.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Fatal.EXIT ends the process with status 70 and says why, in a JVM of its own. */
class FatalTest {

    /** What the child JVM runs: a delivery thread's death, then a wait that the exit must cut short. */
    public static void main(String[] args) throws Exception {
        Fatal.EXIT.died("01TEST: record mail.outbound-0@7", new OutOfMemoryError("a test's"));
        Thread.sleep(60_000);
        System.exit(0);
    }

    @Test
    void theProcessExitsWithStatus70AndALogLineNamingTheJob() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), FatalTest.class.getName()).redirectErrorStream(true).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("exited").isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isEqualTo(70);
        assertThat(out).contains("01TEST: record mail.outbound-0@7: a delivery thread died of java.lang.OutOfMemoryError: a test's");
    }
}
