// The JDBC client of tests/integration/test_veild_clients.py: pgjdbc through veild.
//
// Usage: java -cp postgresql.jar:DIR VeilJdbcProbe URL USER PASSWORD ITERATIONS [KEY=VALUE...]
//
// KEY=VALUE pairs are extra connection properties (they override the ones set here).
// With prepareThreshold=1 pgjdbc turns each PreparedStatement into a named server-side
// statement (Parse once, then Bind/Execute by name with no new RowDescription), and with
// binaryTransfer=true it asks for int, numeric and date columns in binary: the two paths a
// proxy that rewrites rows must track per statement and per column. Prints every value it
// received, one block per row:
//
//   row LABEL ITERATION
//   COLUMN=VALUE          (VALUE with '\' as '\\' and newline as '\n'; SQL NULL as \N)
//
// then "prepared_statements=N", the count of pg_prepared_statements on the same connection,
// so the test can tell that named statements were really used. Exits non-zero on any error.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public final class VeilJdbcProbe {
  private static final String CUSTOMER_BY_ID =
      "SELECT id, name, contact, phone, notes, born, balance, signup_ip"
          + " FROM customers WHERE id = ?";
  private static final String EVENT_PAYLOADS =
      "SELECT id, payload::text AS payload_text, payload FROM events ORDER BY id";
  private static final String PLAIN_CUSTOMERS =
      "SELECT id, name, contact, phone, notes, born, balance, signup_ip"
          + " FROM customers ORDER BY id";

  public static void main(String[] args) throws SQLException {
    if (args.length < 4) {
      System.err.println("usage: VeilJdbcProbe URL USER PASSWORD ITERATIONS [KEY=VALUE...]");
      System.exit(2);
    }
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    props.setProperty("prepareThreshold", "1");
    props.setProperty("binaryTransfer", "true");
    props.setProperty("connectTimeout", "10");
    props.setProperty("socketTimeout", "30");
    int iterations = Integer.parseInt(args[3]);
    for (int a = 4; a < args.length; a++) {
      int eq = args[a].indexOf('=');
      props.setProperty(args[a].substring(0, eq), args[a].substring(eq + 1));
    }

    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      try (PreparedStatement byId = conn.prepareStatement(CUSTOMER_BY_ID);
           PreparedStatement events = conn.prepareStatement(EVENT_PAYLOADS)) {
        for (int i = 0; i < iterations; i++) {
          for (int id = 1; id <= 6; id++) {
            byId.setInt(1, id);
            try (ResultSet rs = byId.executeQuery()) {
              print("customer", i, rs);
            }
          }
          try (ResultSet rs = events.executeQuery()) {
            print("event", i, rs);
          }
        }
      }
      try (Statement st = conn.createStatement()) {
        try (ResultSet rs = st.executeQuery(PLAIN_CUSTOMERS)) {
          print("plain", 0, rs);
        }
        try (ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_prepared_statements")) {
          rs.next();
          System.out.println("prepared_statements=" + rs.getLong(1));
        }
      }
    }
  }

  private static void print(String label, int iteration, ResultSet rs) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    StringBuilder out = new StringBuilder();
    while (rs.next()) {
      out.append("row ").append(label).append(' ').append(iteration).append('\n');
      for (int c = 1; c <= md.getColumnCount(); c++) {
        String v = rs.getString(c);
        out.append(md.getColumnLabel(c)).append('=')
            .append(v == null ? "\\N" : v.replace("\\", "\\\\").replace("\n", "\\n"))
            .append('\n');
      }
    }
    System.out.print(out);
  }
}
