// A client test of Magnetar's Flight SQL server through the Arrow Flight SQL
// JDBC driver and nothing but java.sql. Run in single-file source mode:
//
//   java --add-opens=java.base/java.nio=ALL-UNNAMED -cp 'DRIVER_DIR/*' \
//        FlightSqlJdbcClient.java HOST PORT [USER PASSWORD]
//
// The server must be empty (a fresh memory catalog). Prints "ok: ..." lines
// and exits 0 when every check holds; throws (exit 1) otherwise.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
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

public class FlightSqlJdbcClient {
    static void check(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError("check failed: " + what);
        }
        System.out.println("ok: " + what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:arrow-flight-sql://" + args[0] + ":" + args[1] + "/?useEncryption=false";
        Properties props = new Properties();
        if (args.length >= 4) {
            props.setProperty("user", args[2]);
            props.setProperty("password", args[3]);
        }
        try (Connection conn = DriverManager.getConnection(url, props)) {
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("CREATE TABLE trades (id BIGINT PRIMARY KEY, sym VARCHAR(8), px DOUBLE, qty INT)");
                int n = st.executeUpdate("INSERT INTO trades VALUES (1, 'ABC', 10.5, 100), (2, 'XYZ', 99.25, 7), (3, 'ABC', 11.0, NULL)");
                check(n == 3, "executeUpdate INSERT returns 3, got " + n);
            }

            DatabaseMetaData md = conn.getMetaData();
            check(md.getDatabaseProductName().equals("Magnetar"), "product name " + md.getDatabaseProductName());
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, null, "%", null)) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_CAT") + "." + rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
                }
            }
            check(tables.equals(List.of("magnetar.default.trades:TABLE")), "getTables " + tables);
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "default", "trades", "%")) {
                while (rs.next()) {
                    cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getInt("DATA_TYPE"));
                }
            }
            check(cols.equals(List.of("id:" + Types.BIGINT, "sym:" + Types.VARCHAR, "px:" + Types.DOUBLE, "qty:" + Types.INTEGER)), "getColumns " + cols);
            List<String> pk = new ArrayList<>();
            try (ResultSet rs = md.getPrimaryKeys(null, "default", "trades")) {
                while (rs.next()) {
                    pk.add(rs.getString("COLUMN_NAME"));
                }
            }
            check(pk.equals(List.of("id")), "getPrimaryKeys " + pk);

            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT id, sym, px, qty FROM trades WHERE px > 10.6")) {
                ResultSetMetaData rmd = rs.getMetaData();
                check(rmd.getColumnCount() == 4 && rmd.getColumnType(1) == Types.BIGINT && rmd.getColumnType(3) == Types.DOUBLE,
                        "result metadata");
                List<String> rows = new ArrayList<>();
                while (rs.next()) {
                    long id = rs.getLong(1);
                    String sym = rs.getString("sym");
                    double px = rs.getDouble(3);
                    int qty = rs.getInt(4);
                    boolean qtyNull = rs.wasNull();
                    rows.add(id + "," + sym + "," + px + "," + (qtyNull ? "NULL" : Integer.toString(qty)));
                }
                check(rows.equals(List.of("2,XYZ,99.25,7", "3,ABC,11.0,NULL")), "typed reads " + rows);
            }

            try (PreparedStatement ps = conn.prepareStatement("SELECT sym, qty FROM trades WHERE id >= ? AND sym = ?")) {
                ps.setLong(1, 2);
                ps.setString(2, "ABC");
                List<String> rows = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rows.add(rs.getString(1) + "," + rs.getObject(2));
                    }
                }
                check(rows.equals(List.of("ABC,null")), "prepared query " + rows);
                ps.setLong(1, 1);
                ps.setString(2, "it's; DROP TABLE trades");
                try (ResultSet rs = ps.executeQuery()) {
                    check(!rs.next(), "prepared query with a hostile value returns nothing");
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO trades (id, sym, px, qty) VALUES (?, ?, ?, ?)")) {
                ps.setLong(1, 4);
                ps.setString(2, "NEW");
                ps.setDouble(3, 1.25);
                ps.setInt(4, 5);
                int n = ps.executeUpdate();
                check(n == 1, "prepared insert returns 1, got " + n);
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT COUNT(*) AS n, SUM(qty) AS q FROM trades")) {
                check(rs.next() && rs.getLong("n") == 4 && rs.getLong("q") == 112, "aggregate after prepared insert");
            }
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT nope FROM trades");
                check(false, "unknown column raises");
            } catch (SQLException e) {
                check(e.getMessage().contains("nope"), "unknown column raises: " + e.getMessage().split("\n")[0]);
            }

            // DatabaseMetaData.getTypeInfo should be GetXdbcTypeInfo, but the
            // driver (18.3.0) does not implement it: Avatica's empty result
            // comes back without a call to the server. Check the rows once
            // a driver asks for them (the Go test TestXdbcTypeInfo checks
            // the server's answer).
            List<String> types = new ArrayList<>();
            int prev = Integer.MIN_VALUE;
            boolean ordered = true;
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) {
                    int dt = rs.getInt("DATA_TYPE");
                    ordered &= dt >= prev;
                    prev = dt;
                    types.add(rs.getString("TYPE_NAME") + ":" + dt);
                }
            }
            if (types.isEmpty()) {
                System.out.println("note: the driver's getTypeInfo returns no rows (not implemented by it)");
            } else {
                check(ordered && types.contains("BIGINT:" + Types.BIGINT) && types.contains("VARCHAR:" + Types.VARCHAR)
                        && types.contains("DOUBLE:" + Types.DOUBLE) && types.contains("TIMESTAMP:" + Types.TIMESTAMP)
                        && types.contains("DECIMAL:" + Types.DECIMAL), "getTypeInfo " + types);
            }

            // Several statements in one execute(): those without rows run,
            // the last one's rows come back; a query before the last is
            // refused, naming it.
            try (Statement st = conn.createStatement()) {
                boolean rows = st.execute("CREATE TABLE multi (x INT); INSERT INTO multi VALUES (4), (5); SELECT SUM(x) AS s FROM multi");
                check(rows, "multi-statement execute returns rows");
                try (ResultSet rs = st.getResultSet()) {
                    check(rs.next() && rs.getLong("s") == 9, "multi-statement result is the last statement's");
                }
            }
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT 1 AS a; SELECT 2 AS b");
                check(false, "a query before the last statement raises");
            } catch (SQLException e) {
                check(e.getMessage().contains("statement 1 of 2 returns rows"), "a query before the last statement raises: " + e.getMessage().split("\n")[0]);
            }
        }
        System.out.println("ok: done");
    }
}
