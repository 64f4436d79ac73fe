import java.io.BufferedInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Reads a zip the way MMS's frontend unzips a .mar (java.util.zip.ZipInputStream,
 * which refuses stored entries whose sizes come after the data) and prints
 * "name<TAB>bytes read" per entry.
 */
public class ZipStreamList {
    public static void main(String[] args) throws Exception {
        byte[] buffer = new byte[1 << 20];
        try (InputStream raw = new BufferedInputStream(new FileInputStream(args[0]));
             ZipInputStream zip = new ZipInputStream(raw)) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                long total = 0;
                int n;
                while ((n = zip.read(buffer)) > 0) {
                    total += n;
                }
                System.out.println(entry.getName() + "\t" + total);
            }
        }
    }
}
