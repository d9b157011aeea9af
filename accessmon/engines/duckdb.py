"""The embedded engine: DuckDB over the local store, sandboxed before analyst SQL runs."""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from accessmon._io import arrow_table, pid_alive
from accessmon.config import Config, fill_store_hint
from accessmon.engines.base import StoreInventory, as_utc
from accessmon.errors import EngineError, MissingStore, QueryError, StoreChanged
from accessmon.names import did_you_mean
from accessmon.result import QueryResult, QueryStats
from accessmon.sql import trino_json
from accessmon.sql.fidelity import refuse_unfaithful
from accessmon.sql.render import (
    INSTANT_PREFIX,
    UNFIT_PREFIX,
    duckdb_empty_events,
    duckdb_unfit_guard,
    duckdb_view,
    quote_ident,
    quote_literal,
    unfit_columns,
)
from accessmon.sql.transpile import use_parsed_instants, with_views
from accessmon.sql.trino_zones import with_zones
from accessmon.sql.validate import CheckedQuery
from accessmon.sql.views import all_views
from accessmon.storage import cache
from accessmon.storage import store as store_mod
from accessmon.window import Window

_SPILL_PREFIX = "accessmon-duckdb-"


def spill_folder() -> str:
    """A private (0700) folder for DuckDB to spill to, named after this host and process.

    A process that is killed (a kernel shut down hard, a timeout) cannot remove its folder, so
    each new one first removes those of this user's processes on this host that are gone."""
    host = socket.gethostname()
    root = Path(tempfile.gettempdir())
    for entry in root.glob(f"{_SPILL_PREFIX}{glob.escape(host)}.*.*"):
        pid = entry.name[len(_SPILL_PREFIX) + len(host) + 1 :].split(".")[0]
        if pid.isdigit() and not pid_alive(int(pid)) and _owned(entry):
            shutil.rmtree(entry, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_SPILL_PREFIX}{host}.{os.getpid()}.")


def missing_store(config: Config) -> str:
    """Where the store was looked for, why there, and the command that fills it: a kernel in
    another folder than the analyst thought should not lead to a second store."""
    where = Path(config.store).absolute()
    why = config.store_source or "the default"
    return f"no audit store at {where} (store {why}): {fill_store_hint(config)}"


def _owned(path: Path) -> bool:
    try:
        return path.stat().st_uid == os.getuid()
    except OSError:
        return False


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, config: Config, user: str = "unknown") -> None:
        self.config = config
        self.user = user
        self.store = Path(config.store).resolve()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._allowed: set[str] = set()
        self._tmp: str | None = None

    # -- SQL ------------------------------------------------------------------------------

    def render(self, query: CheckedQuery, window: Window) -> str:
        """Each view reads the columnar cache where it is fresh and parses the JSON of the
        other files; with the cache off, everything is parsed (Teleport's method)."""
        refuse_unfaithful(query.tree, sql=query.sql)
        views = all_views()
        tree = query.tree.copy()
        # the cache keeps the views' columns, not the events' JSON: a query reading the hidden
        # `event_data` reads the store's files, as with the cache off
        use_cache = self.config.duckdb.cache and not query.raw
        parsed = use_parsed_instants(tree, query.views) if use_cache else {}
        if use_cache:
            plan = cache.plan(self.store, window.start, window.end, query.views)
        else:
            files = store_mod.files_between(self.store, window.start, window.end)
            plan = cache.Plan({name: [] for name in query.views}, {}, files)
        cached = [f for files in plan.cached.values() for f in files]
        cached += [f for parts in plan.partial.values() for f, _ in parts]
        self._allow([*plan.stale, *cached])
        source = events_relation(plan.stale)
        between = (
            f"BETWEEN DATE {quote_literal(window.start.isoformat())} "
            f"AND DATE {quote_literal(window.end.isoformat())}"
        )
        view_sql = {}
        for name in query.views:
            parts = []
            if plan.cached[name]:
                parts.append(
                    f"SELECT * FROM read_parquet({path_list(plan.cached[name])}) "
                    f"WHERE event_date {between}"
                )
            for path, days in plan.partial.get(name, []):
                dates = ", ".join(f"DATE {quote_literal(d)}" for d in days)
                parts.append(
                    f"SELECT * FROM read_parquet({path_list([path])}) WHERE event_date IN ({dates})"
                )
            if plan.stale or not parts:
                parts.append(duckdb_view(views[name], source, window, raw=query.raw))
            body = " UNION ALL BY NAME ".join(parts)
            hidden = [
                INSTANT_PREFIX + c
                for c in views[name].instant_columns
                if c not in parsed.get(name, ())
            ]
            guard = ""
            if plan.cached[name] or plan.partial.get(name):  # the cache's unfit values raise
                hidden += [UNFIT_PREFIX + c for c in unfit_columns(views[name])]
                guard = duckdb_unfit_guard(views[name])
            if hidden:
                excluded = ", ".join(map(quote_ident, hidden))
                body = f"SELECT * EXCLUDE ({excluded}) {guard} FROM ({body})"
            view_sql[name] = body
        try:
            return with_views(tree, view_sql, "duckdb")
        except RecursionError as e:  # validation bounds the depth; this is the last guard
            raise QueryError("the query nests too deeply to be translated for DuckDB") from e

    def _allow(self, files: list[Path]) -> None:
        """Let the connection read exactly these files, and no others.

        DuckDB's file access is off; `allowed_paths` names the store and cache files a query
        reads. The list is fixed before the configuration is locked, so a query that needs a
        file not on it (new since the connection opened) gets a new connection.
        """
        needed = {str(f) for f in files}
        if needed <= self._allowed:
            return
        self._allowed |= needed
        # not closed here: a query on another thread (the editor's) may still be using it;
        # it closes when the last reference goes
        self._con = None

    # -- execution ------------------------------------------------------------------------

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A connection that can read the store and nothing else, and cannot be reconfigured."""
        if self._con is None:
            if not self.store.is_dir():
                raise MissingStore(missing_store(self.config))
            limits = self.config.duckdb
            if self._tmp is None:
                # private (0700): spilled rows are audit data; removed with the engine
                self._tmp = spill_folder()
                self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, True)
            con = duckdb.connect(":memory:")
            trino_json.register(con)  # the functions Trino's JSON text is written with
            for setting in (
                "SET TimeZone = 'UTC'",
                f"SET memory_limit = {quote_literal(limits.memory_limit)}",
                f"SET threads = {int(limits.threads)}",
                f"SET temp_directory = {quote_literal(self._tmp)}",
                "SET parquet_metadata_cache = true",
                "SET autoinstall_known_extensions = false",
                "SET autoload_known_extensions = false",
                f"SET allowed_paths = {path_list(sorted(self._allowed))}",
                "SET enable_external_access = false",
                "SET lock_configuration = true",
            ):
                con.execute(setting)
            self._con = con
        return self._con

    def execute(self, sql: str, query: CheckedQuery) -> QueryResult:
        """Run rendered SQL under duckdb.timeout_seconds, counted from the start of validation,
        so validation, planning and execution share one deadline."""
        timeout = self.config.duckdb.timeout_seconds
        started = time.perf_counter()
        remaining = timeout - (time.monotonic() - query.started)
        if remaining <= 0:
            raise self._stopped()
        con = self.connection()
        done = threading.Event()
        watchdog = threading.Thread(
            target=_interrupt_after, args=(con, remaining, done), daemon=True
        )
        watchdog.start()
        try:
            only_select(con, sql)
            table = with_zones(arrow_table(con.sql(sql)), query.tree)
        except KeyboardInterrupt:
            con.interrupt()
            raise
        except duckdb.InterruptException as e:
            raise self._stopped() from e
        except duckdb.OutOfMemoryException as e:
            raise EngineError(
                f"the query needs more memory than duckdb.memory_limit "
                f"({self.config.duckdb.memory_limit}) allows: {str(e).splitlines()[0]}"
            ) from e
        except duckdb.Error as e:
            read = {f for f in self._allowed if quote_literal(f) in sql}
            if gone := {f for f in read if not os.path.exists(f)}:
                self._allowed -= gone
                raise StoreChanged(f"{len(gone)} file(s) went away while the query ran") from e
            raise translate_error(e, query) from e
        finally:
            done.set()
            watchdog.join()
        elapsed = int((time.perf_counter() - started) * 1000)
        return QueryResult(table, sql, QueryStats("duckdb", elapsed_ms=elapsed), query.views)

    def _stopped(self) -> EngineError:
        return EngineError(
            f"the query was stopped after {self.config.duckdb.timeout_seconds:g} s "
            "(duckdb.timeout_seconds; the time counts from validation on)"
        )

    def diagnose(self) -> list[tuple[str, bool, str]]:
        from accessmon.storage.store import count_by_day

        if not self.store.is_dir():
            return [("store", False, missing_store(self.config))]
        problems: list[str] = []
        days = list(count_by_day(self.store, problems))
        events = sum(n for _, _, n in days)
        detail = f"{self.store}: {events} events over {len(days)} days"
        if days:
            detail += f", {days[0][0]} to {days[-1][0]}"
        return [("store", bool(days), detail)] + [("store file", False, p) for p in problems]

    def inventory(self, start: dt.date, end: dt.date) -> StoreInventory:
        """From the store's folders and Parquet footers only (rows, event_time statistics), as
        `accessmon summary` counts; a file without statistics has its event_time read. An
        unreadable file is warned about and left out, as the queries leave it out."""
        if not self.store.is_dir():
            raise MissingStore(missing_store(self.config))
        out = StoreInventory(str(self.store), files=0)
        for day in store_mod.partitions(self.store):
            if not start <= day <= end:
                continue
            for path in store_mod.partition_files(self.store, day):
                try:
                    meta = pq.read_metadata(path)
                    newest = _newest_event(path, meta)
                except (pa.ArrowException, OSError) as e:
                    store_mod.warn_unreadable(path, e)
                    continue
                out.files = (out.files or 0) + 1
                if meta.num_rows:
                    out.days[day] = out.days.get(day, 0) + meta.num_rows
                if newest is not None and (out.newest_event is None or newest > out.newest_event):
                    out.newest_event = newest
        return out

    def publish_results(self, path: Path, name: str) -> str | None:
        """Results stay where the report run wrote them."""
        return None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._tmp:
            self._cleanup()
            self._tmp = None


def _interrupt_after(con: duckdb.DuckDBPyConnection, seconds: float, done: threading.Event) -> None:
    """Interrupt the connection once `seconds` have passed, and again every 20 ms until the
    query is over: an interrupt that lands before DuckDB starts a query is lost, and one
    sent too early must not let the query run on unbounded."""
    if done.wait(seconds):
        return
    while True:
        con.interrupt()
        if done.wait(0.02):
            return


def _newest_event(path: Path, meta: pq.FileMetaData) -> dt.datetime | None:
    """The largest event_time of a store file: its row groups' statistics, else the column."""
    names = meta.schema.names
    if "event_time" not in names:
        return None
    column = names.index("event_time")
    newest: dt.datetime | None = None
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        value = as_utc(stats.max) if stats is not None and stats.has_min_max else None
        if value is None and meta.row_group(i).num_rows:
            table = pq.read_table(path, columns=["event_time"])
            return as_utc(pc.max(table.column("event_time")).as_py())
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest


def path_list(files: Iterable[Path | str]) -> str:
    return "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"


def events_relation(files: list[Path]) -> str:
    """Store files as Teleport's table, `event_date` from the folder name as on S3. Files
    written by other tools may store `event_data` as bytes without a UTF-8 annotation."""
    if not files:
        return duckdb_empty_events()
    return (
        "(SELECT CAST(right(parse_dirpath(filename), 10) AS DATE) AS event_date, event_type, "
        f"event_time, event_data FROM read_parquet({path_list(files)}, filename = true, "
        "binary_as_string = true))"
    )


def only_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """DuckDB's own parser must see one SELECT: the connection may read the store's files,
    and it is statements other than SELECT (COPY, ATTACH) that could write to them."""
    statements = con.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(st.type.name for st in statements) or "nothing"
        raise QueryError(f"not allowed: the engine runs one SELECT, this is {kinds}")


_MISSING_COLUMN = re.compile(r'Referenced column "?([^"\s]+)"? not found', re.I)
_TYPE_ERROR = re.compile(r"No function matches the given name and argument types '([^']+)'")


def translate_error(e: duckdb.Error, query: CheckedQuery) -> Exception:
    """Turn DuckDB's message about generated SQL into one about the analyst's query."""
    first = str(e).splitlines()[0]
    message = first.split(": ", 1)[-1] if ": " in first else first
    if m := _MISSING_COLUMN.search(first):
        col = m.group(1)
        views = all_views()
        names = [c for v in query.views for c in views[v].column_names]
        where = ", ".join(query.views) or "the query"
        return QueryError(f"unknown column {col} in {where}{did_you_mean(col, names)}")
    if m := _TYPE_ERROR.search(first):
        return QueryError(
            f"type error in expression {m.group(1)}: the argument types do not fit; "
            "add an explicit CAST"
        )
    if "is not available on the local engine" in message:  # a guard of sql/trino_time.py
        return QueryError(message)
    if isinstance(e, duckdb.ConversionException | duckdb.BinderException):
        return QueryError(message)
    if isinstance(e, duckdb.PermissionException):
        return QueryError(f"not allowed: {message}")
    return EngineError(f"DuckDB failed: {message}")
