package net.mailrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine;

import org.junit.jupiter.api.Test;

/**
 * Issue 17: each role's help and its accepted options are exactly the ones it uses, and an option given
 * to a role that ignores it is an error that names the role (before, {@code worker --help} listed
 * {@code --smtp-port}, {@code --users-file} and {@code --relay-domains}, and {@code bounce --help}
 * listed {@code --route}, all of them silently ignored).
 */
class RoleOptionsTest {

    static final List<String> COMMON = List.of("--config", "--hostname", "--http-port", "--set", "--help", "--version");
    static final List<String> KAFKA = List.of("--bootstrap-servers");
    static final List<String> HAZELCAST = List.of("--hazelcast-members");
    static final List<String> SMTP = List.of("--smtp-port", "--submission-port", "--smtps-port", "--users-file",
            "--trusted-networks", "--relay-domains");
    static final List<String> DELIVERY = List.of("--route", "--dns-server");

    @Test
    void eachRoleTakesTheOptionsItUsesAndNoOthers() {
        Map<String, Set<String>> expected = Map.of(
                "standalone", union(COMMON, SMTP, DELIVERY, List.of("--data-dir")),
                "edge", union(COMMON, KAFKA, HAZELCAST, SMTP),
                "worker", union(COMMON, KAFKA, HAZELCAST, DELIVERY),
                "bounce", union(COMMON, KAFKA));
        CommandLine root = MailRelay.commandLine();
        expected.forEach((role, options) -> {
            CommandLine cmd = root.getSubcommands().get(role);
            Set<String> taken = new TreeSet<>();
            cmd.getCommandSpec().options().forEach(o -> taken.add(o.longestName()));
            assertThat(taken).as("options of %s", role).isEqualTo(options);
            String help = cmd.getUsageMessage();
            options.forEach(o -> assertThat(help).as("%s --help", role).contains(o));
        });
    }

    @Test
    void anOptionARoleDoesNotUseIsRefusedByName() {
        for (String[] args : List.of(new String[] {"worker", "--smtp-port", "25"}, new String[] {"bounce", "--route", "a=b:25"},
                new String[] {"worker", "--users-file", "users"}, new String[] {"standalone", "--bootstrap-servers", "k:9092"},
                new String[] {"edge", "--dns-server", "127.0.0.1:53"})) {
            StringWriter err = new StringWriter();
            CommandLine cmd = MailRelay.commandLine();
            cmd.setErr(new PrintWriter(err, true));
            int status = cmd.execute(args);
            assertThat(status).as("exit status of %s", String.join(" ", args)).isEqualTo(2);
            assertThat(err.toString()).as("what %s says", String.join(" ", args))
                    .contains("mail-relay " + args[0] + ": the " + args[0] + " role does not take " + args[1]);
        }
    }

    @SafeVarargs
    private static Set<String> union(List<String>... lists) {
        Set<String> all = new TreeSet<>();
        for (List<String> l : lists) {
            all.addAll(l);
        }
        return all;
    }
}
