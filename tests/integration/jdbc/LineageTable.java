// The JDBC client of tests/integration/test_lineage.py: runs each statement of a file through
// pgjdbc with prepareThreshold=1 and binaryTransfer=true (named server-side statements, binary
// results for ints, numerics and dates), twice on the same PreparedStatement, so the second run
// is the Bind/Execute of an already described statement, the path a proxy gets wrong most.
//
// Usage: java -cp postgresql.jar:DIR LineageTable URL USER PASSWORD FILE
// FILE holds statements separated by lines of exactly "--;;". Prints, per statement and run:
//   case N RUN
//   VALUE<TAB>VALUE...     (getString; SQL NULL as \N; '\' as '\\', tab as '\t', newline '\n')
// An error prints "error N RUN SQLSTATE" and goes on with the next statement.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;

public final class LineageTable {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    props.setProperty("prepareThreshold", "1");
    props.setProperty("binaryTransfer", "true");
    props.setProperty("connectTimeout", "10");
    props.setProperty("socketTimeout", "30");
    String all = new String(Files.readAllBytes(Paths.get(args[3])), StandardCharsets.UTF_8);
    String[] statements = all.split("\n--;;\n", -1);
    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      conn.setAutoCommit(true);
      for (int n = 0; n < statements.length; n++) {
        if (statements[n].isBlank()) continue;
        try (PreparedStatement ps = conn.prepareStatement(statements[n])) {
          for (int run = 0; run < 2; run++) {
            try (ResultSet rs = ps.executeQuery()) {
              System.out.println("case " + n + " " + run);
              int cols = rs.getMetaData().getColumnCount();
              while (rs.next()) {
                StringBuilder line = new StringBuilder();
                for (int c = 1; c <= cols; c++) {
                  if (c > 1) line.append('\t');
                  String v = rs.getString(c);
                  line.append(v == null ? "\\N" : escape(v));
                }
                System.out.println(line);
              }
            } catch (SQLException e) {
              System.out.println("error " + n + " " + run + " " + e.getSQLState());
            }
          }
        }
      }
    }
  }

  private static String escape(String v) {
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
  }
}
