package net.mailrelay.edge.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UsersFileTest {

    static final String KNOWN_2A = CredentialStoreTest.KNOWN_2A;

    @TempDir
    Path dir;

    @Test
    void addReplacesOnlyTheUsersOwnLineAndKeepsTheRest() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "# submission users\nvector:" + KNOWN_2A + "\n\n# alice is new\n");
        assertThat(UsersFile.add(file, "alice", "first".toCharArray())).isFalse();
        assertThat(UsersFile.add(file, "bob", "second".toCharArray())).isFalse();
        String before = Files.readString(file);
        String aliceBefore = line(before, "alice:");

        assertThat(UsersFile.add(file, "alice", "changed".toCharArray())).isTrue();
        String after = Files.readString(file);
        List<String> lines = after.lines().toList();
        assertThat(lines).hasSize(6);
        assertThat(lines.subList(0, 4)).containsExactly("# submission users", "vector:" + KNOWN_2A, "", "# alice is new");
        assertThat(lines.get(4)).startsWith("alice:$2y$11$").isNotEqualTo(aliceBefore);
        assertThat(lines.get(5)).isEqualTo(line(before, "bob:"));
        assertThat(UsersFile.list(file)).containsExactly("vector", "alice", "bob");

        CredentialStore store = CredentialStore.load(file);
        assertThat(store.verify("alice", "changed".toCharArray())).isTrue();
        assertThat(store.verify("alice", "first".toCharArray())).isFalse();
        assertThat(store.verify("bob", "second".toCharArray())).isTrue();
        assertThat(store.verify("vector", "U*U".toCharArray())).isTrue();
    }

    @Test
    void removeDropsOneLineAndReportsWhetherTheUserExisted() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "# keep me\nvector:" + KNOWN_2A + "\n");
        UsersFile.add(file, "alice", "pw".toCharArray());
        assertThat(UsersFile.remove(file, "vector")).isTrue();
        assertThat(Files.readString(file)).startsWith("# keep me\nalice:$2y$11$").doesNotContain("vector");
        String unchanged = Files.readString(file);
        assertThat(UsersFile.remove(file, "vector")).isFalse();
        assertThat(Files.readString(file)).isEqualTo(unchanged);
        assertThat(UsersFile.list(file)).containsExactly("alice");
    }

    @Test
    void aNewFileIsReadableByItsOwnerOnly() throws Exception {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        Path file = dir.resolve("users");
        UsersFile.add(file, "alice", "pw".toCharArray());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    }

    @Test
    void editsKeepTheModeAnOperatorChose() throws Exception {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        Path file = dir.resolve("users");
        UsersFile.add(file, "alice", "pw".toCharArray());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
        UsersFile.add(file, "bob", "pw".toCharArray());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-r-----");
    }

    @Test
    void editsGoThroughASymbolicLinkAndLeaveNoTemporaryFiles() throws Exception {
        Path real = dir.resolve("users.real");
        Path link = dir.resolve("users");
        Files.writeString(real, "# target\n");
        Files.createSymbolicLink(link, real);
        UsersFile.add(link, "alice", "pw".toCharArray());
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(UsersFile.list(real)).containsExactly("alice");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("users", "users.real");
        }
    }

    @Test
    void badNamesAndEmptyPasswordsAreRefusedWithoutTouchingTheFile() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "vector:" + KNOWN_2A + "\n");
        for (String name : List.of("", "a:b", "a b", "a\tb", "a\u0000b", "a\u00a0b", "x".repeat(257))) {
            assertThatThrownBy(() -> UsersFile.add(file, name, "pw".toCharArray()))
                    .as("name %s", name).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> UsersFile.add(file, "alice", new char[0])).hasMessage("empty password");
        assertThat(Files.readString(file)).isEqualTo("vector:" + KNOWN_2A + "\n");
        UsersFile.add(file, "x".repeat(256), "pw".toCharArray());
        UsersFile.add(file, "j\u00f6rg@example.org", "pw".toCharArray());
        assertThat(CredentialStore.load(file).users()).contains("x".repeat(256), "j\u00f6rg@example.org");
    }

    @Test
    void aMalformedFileIsNotRewritten() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "# ok\nnot a user line\n");
        assertThatThrownBy(() -> UsersFile.add(file, "alice", "pw".toCharArray()))
                .isInstanceOf(UsersFileException.class).hasMessageStartingWith(file.toRealPath() + ":2: ");
        assertThatThrownBy(() -> UsersFile.remove(file, "alice")).isInstanceOf(UsersFileException.class);
        assertThat(Files.readString(file)).isEqualTo("# ok\nnot a user line\n");
    }

    @Test
    void listAndRemoveNeedAnExistingFile() {
        Path file = dir.resolve("missing");
        assertThatThrownBy(() -> UsersFile.list(file)).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> UsersFile.remove(file, "alice")).isInstanceOf(NoSuchFileException.class);
    }

    private static String line(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow();
    }
}
