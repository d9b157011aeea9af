"""Teleport's audit table on a Trino (or Starburst) of one's own, through the `trino` client.

It runs exactly the SQL accessmon renders for Athena (Athena engine v3 is Trino): only the
views a query names, each filtered on event_type and on the window's event_date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from typing import Any

import pyarrow as pa

from accessmon.config import TRINO_JWT_ENV, TRINO_PASSWORD_ENV, Config
from accessmon.engines.base import StoreInventory, sql_inventory
from accessmon.errors import ConfigError, EngineError, QueryError
from accessmon.result import TRINO_STATS, QueryResult, QueryStats
from accessmon.sql.render import quote_ident
from accessmon.sql.transpile import trino_sql
from accessmon.sql.validate import CheckedQuery
from accessmon.sql.views import all_views
from accessmon.text import zone_text
from accessmon.window import Window

#: The table's own columns the views read, besides the JSON in event_data.
_TABLE_COLUMNS = ("event_type", "event_date", "event_data")


class TrinoEngine:
    name = "trino"

    def __init__(self, config: Config, user: str = "unknown") -> None:
        self.config = config
        self.settings = config.trino
        self.user = user
        self._connection: Any = None

    # -- SQL ------------------------------------------------------------------------------

    @property
    def table(self) -> str:
        """`catalog.schema.table`, quoted; each part must be configured."""
        s = self.settings
        parts = {"catalog": s.catalog, "schema": s.schema_, "table": s.table}
        missing = [k for k, v in parts.items() if not v]
        if missing:
            raise ConfigError(f"trino.{missing[0]} is not set: {self._give_it()}")
        return ".".join(quote_ident(str(v)) for v in parts.values())

    def _give_it(self) -> str:
        """Where a missing connection setting goes: under a system configuration only the
        administrator's file sets it (config.LOCKED_NESTED), so say that one."""
        if self.config.system is not None:
            return f"the administrator sets it in {self.config.system}"
        return "give it in accessmon.yaml"

    def render(self, query: CheckedQuery, window: Window) -> str:
        return trino_sql(query, self.table, window)

    # -- the client -----------------------------------------------------------------------

    def auth(self) -> Any:
        """The client's authentication from trino.auth; secrets from the file or, when it
        leaves them out, from ACCESSMON_TRINO_PASSWORD / ACCESSMON_TRINO_JWT."""
        a = self.settings.auth
        if a is None:
            return None
        from trino.auth import BasicAuthentication, JWTAuthentication

        if a.type == "password":
            password = (
                a.password.get_secret_value() if a.password else os.environ.get(TRINO_PASSWORD_ENV)
            )
            if not password:
                raise ConfigError(
                    f"trino.auth.password is not set: give it in accessmon.yaml or in "
                    f"{TRINO_PASSWORD_ENV}"
                )
            return BasicAuthentication(a.user or self.trino_user, password)
        token = a.token.get_secret_value() if a.token else os.environ.get(TRINO_JWT_ENV)
        if not token:
            raise ConfigError(
                f"trino.auth.token is not set: give it in accessmon.yaml or in {TRINO_JWT_ENV}"
            )
        return JWTAuthentication(token)

    @property
    def trino_user(self) -> str:
        """Trino's user: trino.user, the password's user, else the analyst's name, so that
        Trino's own query list says who ran each query."""
        s = self.settings
        return s.user or (s.auth.user if s.auth and s.auth.user else None) or self.user

    def connection(self) -> Any:
        if self._connection is None:
            import trino

            s = self.settings
            if not s.host:
                raise ConfigError(f"trino.host is not set: {self._give_it()}")
            try:
                self._connection = trino.dbapi.connect(
                    host=s.host, port=s.port, http_scheme=s.http_scheme, user=self.trino_user,
                    catalog=s.catalog, schema=s.schema_, auth=self.auth(), verify=s.verify,
                    allow_insecure_auth=s.allow_insecure_auth, timezone="UTC",
                    source="accessmon", max_attempts=3,
                )  # fmt: skip
            except trino.exceptions.TrinoAuthError as e:
                raise ConfigError(f"trino.auth: {_first_line(e)}") from e
        return self._connection

    # -- execution ------------------------------------------------------------------------

    def execute(self, sql: str, query: CheckedQuery) -> QueryResult:
        """Run SQL under trino.timeout_seconds, counted from validation on; on timeout or
        Ctrl-C the query is cancelled on the server (the client's cursor.cancel())."""
        import trino

        timeout = self.settings.timeout_seconds
        remaining = timeout - (time.monotonic() - query.started)
        if remaining <= 0:
            raise self._stopped(None)
        started = time.monotonic()
        cursor = self.connection().cursor()
        done = threading.Event()
        fired = threading.Event()
        watchdog = threading.Thread(
            target=_cancel_after, args=(cursor, remaining, done, fired), daemon=True
        )
        watchdog.start()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
            description = cursor.description
        except KeyboardInterrupt:
            _cancel(cursor)
            raise
        except trino.exceptions.TrinoUserError as e:
            if fired.is_set():
                raise self._stopped(cursor.query_id) from e
            raise QueryError(f"Trino query {e.query_id or ''} failed: {_message(e)}") from e
        except trino.exceptions.TrinoQueryError as e:
            if fired.is_set():
                raise self._stopped(cursor.query_id) from e
            raise EngineError(f"Trino query {e.query_id or ''} failed: {_message(e)}") from e
        except (trino.exceptions.Error, trino.exceptions.HttpError, OSError) as e:
            if fired.is_set():
                raise self._stopped(cursor.query_id) from e
            raise EngineError(f"Trino at {self._address()} failed: {_first_line(e)}") from e
        finally:
            done.set()
            watchdog.join()
        if fired.is_set():  # cancelled as the last page arrived: the answer may be partial
            raise self._stopped(cursor.query_id)
        stats = cursor.stats or {}
        result = QueryStats(
            "trino",
            elapsed_ms=int((time.monotonic() - started) * 1000),
            data_scanned_bytes=int(
                stats.get("physicalInputBytes") or stats.get("processedBytes") or 0
            ),
            query_execution_id=cursor.query_id,
            engine_execution_ms=stats.get("elapsedTimeMillis"),
            engine_stats={
                **{ours: stats[theirs] for theirs, ours in TRINO_STATS.items() if theirs in stats},
                "info_uri": cursor.info_uri,
            },
        )
        return QueryResult(arrow_table(description or [], rows), sql, result, query.views)

    def _stopped(self, query_id: str | None) -> EngineError:
        which = f"Trino query {query_id}" if query_id else "the Trino query"
        return EngineError(
            f"{which} was cancelled after {self.settings.timeout_seconds:g} s "
            "(trino.timeout_seconds; the time counts from validation on)"
        )

    def _address(self) -> str:
        s = self.settings
        return f"{s.http_scheme}://{s.host}:{s.port}"

    def inventory(self, start: dt.date, end: dt.date) -> StoreInventory:
        """One grouped query over Teleport's table (every event type), through `execute`."""
        return sql_inventory(self, self.table, start, end)

    def publish_results(self, path: Any, name: str) -> str | None:
        """Results stay where the report run wrote them."""
        return None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- doctor ---------------------------------------------------------------------------

    def diagnose(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) for `accessmon doctor`: configuration, server, catalog, schema,
        table, and the columns the views read. Secrets are never shown."""
        s = self.settings
        shown = {"host": s.host, "port": s.port, "http_scheme": s.http_scheme,
                 "user": self.trino_user, "catalog": s.catalog, "schema": s.schema_,
                 "table": s.table, "auth": s.auth.type if s.auth else "none"}  # fmt: skip
        detail = ", ".join(f"{k}={v}" for k, v in shown.items() if v is not None)
        configured = bool(s.host and s.catalog and s.schema_ and s.table)
        out = [("configuration", configured, detail)]
        if not configured:
            return out
        try:
            version = self._rows("SELECT node_version FROM system.runtime.nodes WHERE coordinator")
            out.append(("server", True, f"{self._address()} answers: Trino {version[0][0]}"))
        except Exception as e:
            out.append(("server", False, f"{self._address()}: {_first_line(e)}"))
            return out
        catalog, schema, table = s.catalog or "", s.schema_ or "", s.table or ""
        info = f"{quote_ident(catalog)}.information_schema"
        checks = [
            ("catalog", "SELECT catalog_name FROM system.metadata.catalogs WHERE catalog_name = ?",
             [catalog], catalog),
            ("schema", f"SELECT schema_name FROM {info}.schemata WHERE schema_name = ?",
             [schema], f"{catalog}.{schema}"),
        ]  # fmt: skip
        for name, sql, params, what in checks:
            try:
                found = bool(self._rows(sql, params))
                out.append((name, found, f"{what} {'exists' if found else 'does not exist'}"))
            except Exception as e:
                found = False
                out.append((name, False, f"{what}: {_first_line(e)}"))
            if not found:
                return out
        try:
            columns = dict(self._rows(
                f"SELECT column_name, data_type FROM {info}.columns "
                "WHERE table_schema = ? AND table_name = ?", [schema, table]))  # fmt: skip
        except Exception as e:
            out.append(("table", False, f"{catalog}.{schema}.{table}: {_first_line(e)}"))
            return out
        where = f"{catalog}.{schema}.{table}"
        out.append(("table", bool(columns), f"{where} {'exists' if columns else 'does not exist'}"))
        if columns:
            missing = [c for c in needed_columns() if c not in columns]
            out.append(("columns", not missing, f"missing in {where}: {', '.join(missing)}"
                        if missing else f"{where} has the columns the views read"))  # fmt: skip
        return out

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[list[Any]]:
        cursor = self.connection().cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()


def needed_columns() -> list[str]:
    """Teleport's table columns that the views read directly (the rest is JSON)."""
    out = dict.fromkeys(_TABLE_COLUMNS)
    for view in all_views().values():
        out.update((c.name, None) for c in view.columns if c.path is None)
    return list(out)


def _cancel_after(
    cursor: Any, seconds: float, done: threading.Event, fired: threading.Event
) -> None:
    """Cancel the query once `seconds` have passed; retried every 50 ms until the client has
    a query to cancel (the first POST may still be on its way) or the run is over."""
    if done.wait(seconds):
        return
    fired.set()
    while not done.is_set():
        if cursor.query_id is not None and _cancel(cursor):
            return
        done.wait(0.05)


def _cancel(cursor: Any) -> bool:
    try:
        cursor.cancel()
    except Exception:  # the query may be over already, or the server gone
        return False
    return True


def _message(e: Any) -> str:
    """Trino's error name and message, as one line."""
    name = getattr(e, "error_name", None)
    message = getattr(e, "message", None) or str(e)
    return f"{name}: {_first_line(message)}" if name else _first_line(message)


def _first_line(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# -- rows as Arrow ---------------------------------------------------------------------------

_SCALARS = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "varbinary": pa.binary(),
    "unknown": pa.null(),
}
_PRECISION = re.compile(r"\((\d+)\)")


def arrow_type(typ: str) -> pa.DataType:
    """Trino's type name (from the cursor's description) as Arrow's; what has no Arrow twin
    (json, uuid, ipaddress, intervals, time with time zone) is its text."""
    typ = typ.strip()
    base, _, rest = typ.partition("(")
    base = base.strip().lower()
    if base in _SCALARS and not rest:
        return _SCALARS[base]
    if base == "decimal":
        precision, scale = (int(x) for x in rest.rstrip(")").split(","))
        return pa.decimal128(precision, scale)
    if base == "timestamp" or typ.lower() == "timestamp with time zone":
        m = _PRECISION.search(typ)
        unit = "ms" if m is None or int(m.group(1)) <= 3 else "us"
        return pa.timestamp(unit, tz="UTC" if typ.lower().endswith("with time zone") else None)
    if base == "array":
        return pa.list_(arrow_type(rest[:-1]))
    if base == "map":
        key, value = _split_args(rest[:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    if base == "row":
        fields = []
        for i, part in enumerate(_split_args(rest[:-1])):
            name, typ_ = _row_field(part)
            fields.append(pa.field(name or f"field{i}", arrow_type(typ_)))
        return pa.struct(fields)
    return pa.string()


def _split_args(text: str) -> list[str]:
    """Split at the commas outside parentheses and double quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _row_field(text: str) -> tuple[str | None, str]:
    """`name type`, `"quoted name" type` or an anonymous `type`."""
    if text.startswith('"'):
        end = text.index('"', 1)
        while text[end + 1 : end + 2] == '"':  # a doubled quote inside the name
            end = text.index('"', end + 2)
        return text[1:end].replace('""', '"'), text[end + 1 :].strip()
    head, _, tail = text.partition(" ")
    if tail and not head.endswith(")") and "(" not in head:
        return head, tail.strip()
    return None, text


def _value(value: Any, typ: pa.DataType) -> Any:
    """The client's Python value in the shape pyarrow takes for `typ`."""
    if value is None:
        return None
    if pa.types.is_list(typ):
        return [_value(v, typ.value_type) for v in value]
    if pa.types.is_map(typ):
        return [(_value(k, typ.key_type), _value(v, typ.item_type)) for k, v in value.items()]
    if pa.types.is_struct(typ):
        return {f.name: _value(v, f.type) for f, v in zip(typ, value, strict=True)}
    if pa.types.is_string(typ) and not isinstance(value, str):
        return str(value)
    return value


def _in_zone(typ: pa.DataType, values: list[Any]) -> pa.DataType:
    """A timestamp with time zone column in the zone its values carry (`at_timezone(ts,
    'Europe/Berlin')`), so it prints with the zone's name as Trino's CLI prints it; UTC when
    its values' zones differ (one Arrow column has one zone) or it has none."""
    if not (pa.types.is_timestamp(typ) and typ.tz):
        return typ
    zones = {zone_text(v.tzinfo) for v in values if v is not None and v.tzinfo is not None}
    return pa.timestamp(typ.unit, tz=zones.pop()) if len(zones) == 1 else typ


def arrow_table(description: list[Any], rows: list[list[Any]]) -> pa.Table:
    """The client's rows as an Arrow table typed from Trino's column types."""
    names = [d[0] for d in description]
    types = [
        _in_zone(arrow_type(d[1]), [row[i] for row in rows]) for i, d in enumerate(description)
    ]
    columns = [
        pa.array([_value(row[i], typ) for row in rows], type=typ) for i, typ in enumerate(types)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(list(zip(names, types, strict=True))))
