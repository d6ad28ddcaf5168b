// The MariaDB Connector/J client of the MySQL integration tests (mysql_clients.query_jdbc):
// Debian's libmariadb-java (2.7) against MariaDB, or veild in front of it.
//
// Usage: java -cp mariadb-java-client.jar:DIR VeilMariadbProbe URL USER PASSWORD SQL MODE REPEAT
//            COUNT_PREPARES [PARAM...]
//
//   URL             jdbc:mariadb://HOST:PORT/DB?... (mysql_clients adds useServerPrepStmts=true,
//                   so a PreparedStatement is COM_STMT_PREPARE + COM_STMT_EXECUTE and its rows
//                   come back in the binary protocol)
//   MODE            query (a Statement: COM_QUERY, text rows) or prepared (a PreparedStatement)
//   REPEAT          executions on the one connection (prepared: one prepare, REPEAT executes)
//   COUNT_PREPARES  1: afterwards read the session's Com_stmt_prepare
//   PARAM           i:INTEGER, d:DECIMAL, s:STRING or n: (NULL), bound in order to the ?s
//
// Prints one JSON document on stdout:
//   {"columns": [...], "runs": [[[v, ...], ...], ...], "error": null | {"code": N,
//    "sqlstate": "...", "message": "..."}, "prepares": N | null}
// one run per execution, each a list of rows, each value getString() (null for SQL NULL).
// A SQLException (a server error, or a connection refused or cut) is reported as "error" with
// exit status 0; anything else exits non-zero.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public final class VeilMariadbProbe {
  public static void main(String[] args) {
    if (args.length < 7) {
      System.err.println("usage: VeilMariadbProbe URL USER PASSWORD SQL MODE REPEAT"
          + " COUNT_PREPARES [PARAM...]");
      System.exit(2);
    }
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    String sql = args[3];
    boolean prepared = args[4].equals("prepared");
    int repeat = Integer.parseInt(args[5]);
    boolean countPrepares = args[6].equals("1");

    List<String> columns = new ArrayList<>();
    List<List<List<String>>> runs = new ArrayList<>();
    String error = "null";
    String prepares = "null";
    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      if (prepared) {
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
          for (int a = 7; a < args.length; a++) bind(ps, a - 6, args[a]);
          for (int i = 0; i < repeat; i++) {
            ps.execute();
            collect(ps, columns, runs);
          }
        }
      } else {
        try (Statement st = conn.createStatement()) {
          for (int i = 0; i < repeat; i++) {
            st.execute(sql);
            collect(st, columns, runs);
          }
        }
      }
      if (countPrepares) {
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")) {
          if (rs.next()) prepares = rs.getString(2);
        }
      }
    } catch (SQLException e) {
      error = "{\"code\": " + e.getErrorCode() + ", \"sqlstate\": " + quote(e.getSQLState())
          + ", \"message\": " + quote(e.getMessage()) + "}";
    }

    StringBuilder out = new StringBuilder("{\"columns\": [");
    for (int c = 0; c < columns.size(); c++) {
      out.append(c > 0 ? ", " : "").append(quote(columns.get(c)));
    }
    out.append("], \"runs\": [");
    for (int r = 0; r < runs.size(); r++) {
      out.append(r > 0 ? ", " : "").append("[");
      List<List<String>> rows = runs.get(r);
      for (int i = 0; i < rows.size(); i++) {
        out.append(i > 0 ? ", " : "").append("[");
        List<String> row = rows.get(i);
        for (int c = 0; c < row.size(); c++) {
          out.append(c > 0 ? ", " : "").append(quote(row.get(c)));
        }
        out.append("]");
      }
      out.append("]");
    }
    out.append("], \"error\": ").append(error).append(", \"prepares\": ").append(prepares)
        .append("}");
    System.out.println(out);
  }

  private static void bind(PreparedStatement ps, int index, String param) throws SQLException {
    String value = param.substring(2);
    switch (param.charAt(0)) {
      case 'i' -> ps.setLong(index, Long.parseLong(value));
      case 'd' -> ps.setBigDecimal(index, new BigDecimal(value));
      case 's' -> ps.setString(index, value);
      case 'n' -> ps.setNull(index, Types.VARCHAR);
      default -> throw new IllegalArgumentException("bad parameter " + param);
    }
  }

  // Every result set of the statement's last execution, as one run each.
  private static void collect(Statement st, List<String> columns, List<List<List<String>>> runs)
      throws SQLException {
    boolean more = true;
    while (more) {
      try (ResultSet rs = st.getResultSet()) {
        if (rs == null) break;
        ResultSetMetaData md = rs.getMetaData();
        int n = md.getColumnCount();
        if (columns.isEmpty()) {
          for (int c = 1; c <= n; c++) columns.add(md.getColumnLabel(c));
        }
        List<List<String>> rows = new ArrayList<>();
        while (rs.next()) {
          List<String> row = new ArrayList<>(n);
          for (int c = 1; c <= n; c++) row.add(rs.getString(c));
          rows.add(row);
        }
        runs.add(rows);
      }
      more = st.getMoreResults();
    }
  }

  private static String quote(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      switch (ch) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
          else b.append(ch);
        }
      }
    }
    return b.append('"').toString();
  }
}
