import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Checks the build's runtime jars against the pinned list: {@code java VerifyJars.java jars.sha256
 * target/lib} (the pom runs it at {@code package}). The list is in {@code sha256sum} format (a
 * hash, two spaces, a jar name); the folder must hold exactly those jars with those hashes. On a
 * mismatch it prints one line naming the jar and exits with 1.
 */
public final class VerifyJars {

    private VerifyJars() {}

    /** Checks {@code args[1]}'s jars against the list {@code args[0]}. */
    public static void main(String[] args) throws IOException, NoSuchAlgorithmException {
        Path list = Path.of(args[0]);
        Path folder = Path.of(args[1]);
        Map<String, String> pinned = new TreeMap<>();
        for (String line : Files.readAllLines(list)) {
            if (!line.isBlank()) {
                String[] parts = line.trim().split("\\s+\\*?", 2);
                pinned.put(parts[1], parts[0]);
            }
        }
        Set<String> present;
        try (Stream<Path> jars = Files.list(folder)) {
            present = jars.map(jar -> jar.getFileName().toString())
                    .filter(name -> name.endsWith(".jar"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        for (String name : present) {
            if (!pinned.containsKey(name)) {
                fail(folder.resolve(name) + " is not pinned in " + list + ": add its SHA-256 there if it belongs");
            }
        }
        for (Map.Entry<String, String> entry : pinned.entrySet()) {
            Path jar = folder.resolve(entry.getKey());
            if (!present.contains(entry.getKey())) {
                fail(jar + " is missing: " + list + " pins it");
            }
            String actual = HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(jar)));
            if (!actual.equals(entry.getValue())) {
                fail(jar + " has SHA-256 " + actual + ", " + list + " pins " + entry.getValue());
            }
        }
    }

    private static void fail(String message) {
        System.err.println("error: " + message);
        System.exit(1);
    }
}
