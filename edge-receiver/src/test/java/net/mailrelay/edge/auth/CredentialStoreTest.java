package net.mailrelay.edge.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CredentialStoreTest {

    /** From the OpenBSD/Openwall bcrypt test vectors: password "U*U", cost 5. */
    static final String KNOWN_2A = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

    @TempDir
    Path dir;

    @Test
    void aPasswordSetWithUsersFileVerifies() throws Exception {
        Path file = dir.resolve("users");
        UsersFile.add(file, "alice", "correct horse".toCharArray());
        CredentialStore store = CredentialStore.load(file);
        assertThat(store.verify("alice", "correct horse".toCharArray())).isTrue();
        assertThat(store.users()).containsExactly("alice");
        assertThat(store.isEmpty()).isFalse();
        assertThat(Files.readString(file)).startsWith("alice:$2y$11$");
    }

    @Test
    void aWrongPasswordOrAnUnknownUserDoesNotVerify() throws Exception {
        Path file = dir.resolve("users");
        UsersFile.add(file, "alice", "correct horse".toCharArray());
        CredentialStore store = CredentialStore.load(file);
        assertThat(store.verify("alice", "Correct horse".toCharArray())).isFalse();
        assertThat(store.verify("alice", new char[0])).isFalse();
        assertThat(store.verify("Alice", "correct horse".toCharArray())).isFalse();
        assertThat(store.verify("bob", "correct horse".toCharArray())).isFalse();
        assertThat(store.verify(null, "correct horse".toCharArray())).isFalse();
    }

    @Test
    void theEmptyStoreKnowsNobody() {
        assertThat(CredentialStore.empty().isEmpty()).isTrue();
        assertThat(CredentialStore.empty().users()).isEmpty();
        assertThat(CredentialStore.empty().verify("alice", "x".toCharArray())).isFalse();
    }

    @Test
    void readsHtpasswdStyleLinesCommentsAndBlankLines() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "# users of the submission port\n\nvector:" + KNOWN_2A + "\r\n   \n");
        CredentialStore store = CredentialStore.load(file);
        assertThat(store.users()).containsExactly("vector");
        assertThat(store.verify("vector", "U*U".toCharArray())).isTrue();
        assertThat(store.toString()).doesNotContain(KNOWN_2A);
    }

    @Test
    void aMalformedLineNamesFileAndLineButNotItsContent() throws Exception {
        Path file = dir.resolve("users");
        String truncated = "$2y$11$ZU/RnAZ6VH9og4vID0brUOyG7Khqm0Wr9glP1KN";
        Files.writeString(file, "# comment\nvector:" + KNOWN_2A + "\nbob:" + truncated + "\n");
        assertThatThrownBy(() -> CredentialStore.load(file)).isInstanceOf(UsersFileException.class)
                .hasMessageStartingWith(file + ":3: ").hasMessageNotContaining(truncated).hasMessageNotContaining("ZU/RnAZ");

        Files.writeString(file, "hunter2-pasted-here\n");
        assertThatThrownBy(() -> CredentialStore.load(file)).hasMessageStartingWith(file + ":1: ")
                .hasMessageNotContaining("hunter2");

        Files.writeString(file, "\nhunter 2:" + KNOWN_2A + "\n");
        assertThatThrownBy(() -> CredentialStore.load(file)).hasMessageStartingWith(file + ":2: ")
                .hasMessageNotContaining("hunter").hasMessageNotContaining(KNOWN_2A);
    }

    @Test
    void aUserListedTwiceIsAnError() throws Exception {
        Path file = dir.resolve("users");
        Files.writeString(file, "vector:" + KNOWN_2A + "\n#\nvector:" + KNOWN_2A + "\n");
        assertThatThrownBy(() -> CredentialStore.load(file)).hasMessage(file + ":3: user already listed on line 1");
    }

    @Test
    void aFileThatIsNotUtf8IsRejected() throws Exception {
        Path file = dir.resolve("users");
        Files.write(file, ("j\u00f6rg:" + KNOWN_2A + "\n").getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> CredentialStore.load(file)).isInstanceOf(UsersFileException.class)
                .hasMessageContaining("UTF-8");
    }

    /** bcrypt keys on 72 bytes: everything after byte 72 of the UTF-8 password is ignored. */
    @Test
    void onlyTheFirst72BytesOfAPasswordCount() throws Exception {
        Path file = dir.resolve("users");
        String first72 = "\u00e9".repeat(36); // two bytes each in UTF-8
        UsersFile.add(file, "long", (first72 + "tail that bcrypt never sees").toCharArray());
        CredentialStore store = CredentialStore.load(file);
        assertThat(store.verify("long", (first72 + "tail that bcrypt never sees").toCharArray())).isTrue();
        assertThat(store.verify("long", (first72 + "a different tail").toCharArray())).isTrue();
        assertThat(store.verify("long", first72.toCharArray())).isTrue();
        assertThat(store.verify("long", first72.substring(1).toCharArray())).isFalse();
        assertThat(CredentialStore.MAX_PASSWORD_BYTES).isEqualTo(72);
    }
}
