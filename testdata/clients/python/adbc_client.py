"""Client test of Magnetar's Flight SQL server through ADBC (the
adbc-driver-flightsql package from PyPI) and pyarrow.

    python adbc_client.py grpc://HOST:PORT [USER PASSWORD]

The server must be empty (a fresh memory catalog). Prints "ok: ..." lines
and exits 0 when every check holds.
"""
import sys

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa


def check(cond, what):
    if not cond:
        raise AssertionError("check failed: " + what)
    print("ok: " + what, flush=True)


def main():
    uri = sys.argv[1]
    kwargs = {}
    if len(sys.argv) >= 4:
        kwargs["db_kwargs"] = {"username": sys.argv[2], "password": sys.argv[3]}
    with flightsql.connect(uri, **kwargs) as conn:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE sensors (id BIGINT, site VARCHAR(8), temp DOUBLE)")
            cur.execute("INSERT INTO sensors VALUES (1, 'north', 20.5), (2, 'south', 25.0), (3, 'north', NULL)")
            cur.execute("SELECT id, site, temp FROM sensors WHERE id >= 2")
            tbl = cur.fetch_arrow_table()
            check(tbl.schema.field("id").type == pa.int64(), "id is int64: %s" % tbl.schema)
            check(tbl.schema.field("temp").type == pa.float64(), "temp is float64")
            check(tbl.to_pydict() == {"id": [2, 3], "site": ["south", "north"], "temp": [25.0, None]},
                  "rows %s" % tbl.to_pydict())

            cur.execute("SELECT site, COUNT(*) AS n FROM sensors WHERE site = ? GROUP BY site", parameters=("north",))
            tbl = cur.fetch_arrow_table()
            check(tbl.to_pydict() == {"site": ["north"], "n": [2]}, "parameterized aggregate %s" % tbl.to_pydict())

        schema = conn.adbc_get_table_schema("sensors", db_schema_filter="default")
        check(schema.names == ["id", "site", "temp"], "table schema %s" % schema.names)
        objs = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        names = sorted(
            (c["catalog_name"], s["db_schema_name"], t["table_name"])
            for c in objs for s in (c["catalog_db_schemas"] or []) for t in (s["db_schema_tables"] or []))
        check(names == [("magnetar", "default", "sensors")], "get_objects %s" % names)
    print("ok: done", flush=True)


if __name__ == "__main__":
    main()
