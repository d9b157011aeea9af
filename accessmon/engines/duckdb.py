"""The embedded engine: DuckDB over the local store, sandboxed before analyst SQL runs."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from .. import cache
from .. import store as store_mod
from ..config import Config
from ..errors import EngineError, QueryError, StoreError
from ..result import QueryResult, QueryStats
from ..validate import CheckedQuery
from ..views import all_views, did_you_mean
from ..viewsql import duckdb_empty_events, duckdb_view, quote_literal
from ..window import Window
from .base import with_views


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, config: Config, user: str = "unknown") -> None:
        self.config = config
        self.user = user
        self.store = Path(config.store).resolve()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._registered: set[str] = set()
        self._tmp: str | None = None

    # -- SQL ------------------------------------------------------------------------------

    def render(self, query: CheckedQuery, window: Window) -> str:
        """Each view reads the columnar cache where it is fresh and parses the JSON of the
        other files; with the cache off, everything is parsed (Teleport's method)."""
        views = all_views()
        if self.config.duckdb.cache:
            plan = cache.plan(self.store, window.start, window.end, query.views)
        else:
            files = store_mod.files_between(self.store, window.start, window.end)
            plan = cache.Plan({name: [] for name in query.views}, files)
        source = self._register_events(plan.stale)
        view_sql = {}
        for name in query.views:
            parts = []
            if plan.cached[name]:
                cached = self._register_cache(plan.cached[name])
                parts.append(
                    f"SELECT * FROM {cached} WHERE event_date BETWEEN "
                    f"DATE {quote_literal(window.start.isoformat())} "
                    f"AND DATE {quote_literal(window.end.isoformat())}"
                )
            if plan.stale or not parts:
                parts.append(duckdb_view(views[name], source, window))
            view_sql[name] = " UNION ALL BY NAME ".join(parts)
        return with_views(query.tree, view_sql, "duckdb")

    def _register(self, prefix: str, files: list[Path], make) -> str:
        """Hand files to DuckDB as an Arrow dataset, under a name derived from the list.

        DuckDB itself never opens a file: its connection has no file access at all, so no
        query can read, or write, anything in or outside the store.
        """
        digest = hashlib.sha256("\0".join(map(str, files)).encode()).hexdigest()[:12]
        name = f"{prefix}_{digest}"
        if name not in self._registered:
            self.connection().register(name, make([str(f) for f in files]))
            self._registered.add(name)
        return name

    def _register_events(self, files: list[Path]) -> str:
        import pyarrow.dataset as ds

        if not files:
            return duckdb_empty_events()
        return self._register(
            "events",
            files,
            lambda paths: ds.dataset(
                paths,
                schema=store_mod.DATASET_SCHEMA,
                format="parquet",
                partitioning=ds.DirectoryPartitioning(store_mod.PARTITION_SCHEMA),
                partition_base_dir=str(self.store),
            ),
        )

    def _register_cache(self, files: list[Path]) -> str:
        import pyarrow.dataset as ds

        return self._register("cached", files, lambda paths: ds.dataset(paths, format="parquet"))

    # -- execution ------------------------------------------------------------------------

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A connection that can read the store and nothing else, and cannot be reconfigured."""
        if self._con is None:
            if not self.store.is_dir():
                raise StoreError(
                    f"no audit store at {self.store}: run `accessmon demo` or `accessmon ingest`"
                )
            limits = self.config.duckdb
            self._tmp = tempfile.mkdtemp(prefix="accessmon-duckdb-")
            con = duckdb.connect(":memory:")
            for setting in (
                "SET TimeZone = 'UTC'",
                f"SET memory_limit = {quote_literal(limits.memory_limit)}",
                f"SET threads = {int(limits.threads)}",
                f"SET temp_directory = {quote_literal(self._tmp)}",
                "SET autoinstall_known_extensions = false",
                "SET autoload_known_extensions = false",
                "SET enable_external_access = false",
                "SET lock_configuration = true",
            ):
                con.execute(setting)
            self._con = con
        return self._con

    def execute(self, sql: str, query: CheckedQuery) -> QueryResult:
        con = self.connection()
        timer = threading.Timer(self.config.duckdb.timeout_seconds, con.interrupt)
        started = time.perf_counter()
        timer.start()
        try:
            table = arrow_table(con.sql(sql))
        except KeyboardInterrupt:
            con.interrupt()
            raise
        except duckdb.InterruptException:
            raise EngineError(
                f"the query was stopped after {self.config.duckdb.timeout_seconds:g} s "
                "(duckdb.timeout_seconds)"
            ) from None
        except duckdb.Error as e:
            raise translate_error(e, query) from None
        finally:
            timer.cancel()
        elapsed = int((time.perf_counter() - started) * 1000)
        return QueryResult(table, sql, QueryStats("duckdb", elapsed_ms=elapsed), query.views)

    def diagnose(self) -> list[tuple[str, bool, str]]:
        from ..store import count_by_day

        if not self.store.is_dir():
            return [("store", False, f"{self.store} does not exist: run `accessmon demo`")]
        days = list(count_by_day(self.store))
        events = sum(n for _, _, n in days)
        detail = f"{self.store}: {events} events over {len(days)} days"
        if days:
            detail += f", {days[0][0]} to {days[-1][0]}"
        return [("store", bool(days), detail)]

    def publish_results(self, path: Path, name: str) -> str | None:
        """Results stay where the report run wrote them."""
        return None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            self._registered.clear()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def arrow_table(relation: duckdb.DuckDBPyRelation):
    """The result as a pyarrow Table (the method's name changed in DuckDB 2.0)."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


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
    if isinstance(e, duckdb.ConversionException | duckdb.BinderException):
        return QueryError(message)
    if isinstance(e, duckdb.PermissionException):
        return QueryError(f"not allowed: {message}")
    return EngineError(f"DuckDB failed: {message}")
