"""A real Trino for the tests: fetched from Maven Central, unpacked once, started on 127.0.0.1.

Athena engine v3 is Trino, so a local Trino is the oracle for "the same SQL gives the same
answers on Athena". This module fetches Trino's server tarball through Maven (so it is kept in
`~/.m2`), unpacks it once into `.cache/trino-<version>/` with only the plugins we use, and runs
one coordinator with a small heap. Teleport's Glue table is registered over the Hive connector
with a file metastore, on the local file system, reading a store as it is.

    python -m tests.trino.server start [--store DIR]   # what `make trino` runs
    python -m tests.trino.server stop
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = "476"
CACHE = REPO / ".cache"
HOME = CACHE / f"trino-{VERSION}"
#: Recent Trino needs Java 24 or newer; this one is on the project's machines.
DEFAULT_JAVA_HOME = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
MIN_JAVA = 24
#: The Hive connector holds the file metastore and the native local file system too.
PLUGINS = ("hive",)
#: Teleport's Glue database and table, as `accessmon.yaml`'s athena section names them here.
DATABASE, TABLE = "audit_db", "audit_table"
CATALOG = "hive"
#: `mvn dependency:copy` of the default (2.8) plugin cannot fetch a tar.gz classifier-less
#: artifact; this version can.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

#: Trino's recommended JVM settings, cut down to one small coordinator. UTC as Athena has it.
#: C1 only (TieredStopAtLevel=1): the tests run small queries, and on two cores it starts
#: about a quarter faster than with C2 compiling Trino's start-up code.
JVM_CONFIG = """\
-server
-Xmx{heap}
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-XX:+EnableDynamicAgentLoading
-XX:TieredStopAtLevel=1
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-Duser.timezone=UTC
"""


class TrinoUnavailable(RuntimeError):
    """Trino cannot run here (no Java, no Maven, no tarball): the tests say how to enable it."""


# -- getting it ------------------------------------------------------------------------------


def java_home() -> Path:
    """A JDK new enough for this Trino: $JAVA_HOME if it is one, else the project's Java 25."""
    candidates = [Path(p) for p in (os.environ.get("JAVA_HOME"),) if p] + [DEFAULT_JAVA_HOME]
    for home in candidates:
        java = home / "bin" / "java"
        if java.is_file() and _java_major(java) >= MIN_JAVA:
            return home
    raise TrinoUnavailable(
        f"Trino {VERSION} needs Java {MIN_JAVA}+, found none at $JAVA_HOME or "
        f"{DEFAULT_JAVA_HOME}; install one, set JAVA_HOME to it and run `make test-trino`"
    )


def _java_major(java: Path) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else 0


def tarball() -> Path:
    """The server tarball in the local Maven repository, fetched there first if missing."""
    local_repo = Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2" / "repository"))
    path = local_repo / "io/trino/trino-server" / VERSION / f"trino-server-{VERSION}.tar.gz"
    if path.is_file():
        return path
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TrinoUnavailable("Maven (mvn) is needed to fetch Trino: install it and rerun")
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as out:
        _say(f"fetching trino-server {VERSION} (about 820 MB) into {local_repo} ...")
        started = time.monotonic()
        artifact = f"io.trino:trino-server:{VERSION}:tar.gz"
        subprocess.run(
            [mvn, "-q", f"-Dmaven.repo.local={local_repo}", f"{DEPENDENCY_PLUGIN}:copy",
             f"-Dartifact={artifact}", f"-DoutputDirectory={out}"],
            check=True,
        )  # fmt: skip
        _say(f"fetched in {time.monotonic() - started:.0f} s")
    if not path.is_file():
        raise TrinoUnavailable(f"Maven did not leave {path}")
    return path


def install(prune: bool = True) -> Path:
    """`.cache/trino-<version>/`, unpacked once with only PLUGINS kept; reused afterwards.
    Unpacked beside it and renamed, so an interrupted unpack is never taken for a whole one."""
    if (HOME / "bin" / "launcher").is_file():
        return HOME
    source = tarball()
    CACHE.mkdir(exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"trino-{VERSION}.", dir=CACHE))
    try:
        started = time.monotonic()
        subprocess.run(["tar", "xzf", source, "-C", partial], check=True)
        unpacked = partial / f"trino-server-{VERSION}"
        if prune:
            for plugin in (unpacked / "plugin").iterdir():
                if plugin.name not in PLUGINS:
                    shutil.rmtree(plugin)
        unpacked.rename(HOME)
        _say(f"unpacked {source.name} into {HOME} in {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return HOME


# -- running it ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Trino:
    """One running coordinator, its folder (config, metastore, logs) and its PID."""

    home: Path
    run_dir: Path
    port: int
    process: subprocess.Popen | None = None
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.run_dir / "server.log"

    def write_config(self, heap: str = "2G", jvm_options: tuple[str, ...] = ()) -> None:
        etc = self.run_dir / "etc"
        (etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "metastore").mkdir(exist_ok=True)
        _write(
            etc / "jvm.config",
            JVM_CONFIG.format(heap=heap) + "".join(f"{o}\n" for o in jvm_options),
        )
        _write(etc / "node.properties", _props({
            "node.environment": "test",
            "node.id": "accessmon-test",
            "node.data-dir": self.run_dir / "data",
            "node.internal-address": "127.0.0.1",
            "node.bind-ip": "127.0.0.1",
        }))  # fmt: skip
        _write(etc / "config.properties", _props({
            "coordinator": "true",
            "node-scheduler.include-coordinator": "true",
            "http-server.http.port": self.port,
            "discovery.uri": self.url,
            "query.max-memory": "1GB",
            "query.max-memory-per-node": "1GB",
        }))  # fmt: skip
        _write(etc / "log.properties", "io.trino=INFO\n")  # start-up timings, for failures
        _write(etc / "catalog" / f"{CATALOG}.properties", _props({
            "connector.name": "hive",
            "hive.metastore": "file",
            "hive.metastore.catalog.dir": f"local://{self.run_dir / 'metastore'}",
            "fs.native-local.enabled": "true",
            "local.location": "/",
            # A projected day without a folder reads as no rows, as on Athena (not an error).
            "hive.ignore-absent-partitions": "true",
        }))  # fmt: skip

    def start(self, timeout: float = 180.0) -> float:
        """Start the coordinator and wait until it serves a query; returns the seconds taken."""
        env = {**os.environ, "JAVA_HOME": str(java_home())}
        env["PATH"] = f"{env['JAVA_HOME']}/bin:{env.get('PATH', '')}"
        etc = self.run_dir / "etc"
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.home / "bin" / "launcher", "run", f"--etc-dir={etc}",
                 f"--data-dir={self.run_dir / 'data'}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )  # fmt: skip
        self.pid = self.process.pid
        _write(self.run_dir / "trino.pid", f"{self.pid}\n")
        try:
            self._wait_ready(started + timeout)
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Trino exited with {self.process.returncode}:\n{self.tail()}")
            if self._info().get("starting") is False:
                with contextlib.suppress(Exception):
                    if self.query("SELECT 1") == [[1]]:
                        return
            time.sleep(0.25)
        raise RuntimeError(f"Trino did not answer within the timeout:\n{self.tail()}")

    def _info(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/info", timeout=2) as r:
                return json.load(r)
        except (OSError, ValueError):
            return {}

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def connect(self, schema: str = DATABASE):
        """A DB-API connection (the `trino` client package), UTC as Athena."""
        import trino

        return trino.dbapi.connect(
            host="127.0.0.1", port=self.port, user="accessmon", catalog=CATALOG, schema=schema,
            timezone="UTC",
        )  # fmt: skip

    def query(self, sql: str, schema: str = DATABASE) -> list[list]:
        conn = self.connect(schema)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return cur.fetchall()
        finally:
            conn.close()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop it by its PID: TERM (Trino shuts down cleanly), then KILL."""
        if self.pid is None:
            return
        stop_pid(self.pid, timeout)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(1)
        self.pid = None
        (self.run_dir / "trino.pid").unlink(missing_ok=True)


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)


def start(run_dir: Path, heap: str = "2G", prune: bool = True) -> Trino:
    """Install if needed, configure in `run_dir` and start one coordinator."""
    trino = Trino(install(prune), Path(run_dir), free_port())
    trino.write_config(heap)
    trino.start()
    return trino


# -- Teleport's table, as Athena sees it -----------------------------------------------------

#: Teleport's Glue table: its columns, in its order; `event_date` is the partition (folder).
COLUMNS = (
    ("uid", "varchar"),
    ("session_id", "varchar"),
    ("event_type", "varchar"),
    ("event_time", "timestamp(3)"),
    ("event_data", "varchar"),
    ("user", "varchar"),
)


def register_store(trino: Trino, store: Path, first_day: dt.date | None = None) -> None:
    """Teleport's table over `store` (`<YYYY-MM-DD>/<uuid>.parquet`) with Athena-style partition
    projection on `event_date`, as Teleport declares it, so no partition is registered; then
    accessmon's views (Teleport's 35 and its own), as rendered for Athena, over the store's dates.

    Teleport's range is `NOW-4YEARS,NOW`; Trino 476 only takes DAY/HOUR/MINUTE/SECOND offsets
    from NOW, and a test store may hold older days, so the range starts at the store's first
    day (or four years back) and ends NOW."""
    from accessmon.sql.render import quote_ident, quote_literal, trino_view
    from accessmon.sql.views import all_views
    from accessmon.storage.store import partitions
    from accessmon.window import Window

    store = Path(store).resolve()
    days = partitions(store)
    today = dt.datetime.now(dt.UTC).date()
    first = first_day or (days[0] if days else today - dt.timedelta(days=4 * 365 + 1))
    location = f"local://{store}"
    table = f"{quote_ident(DATABASE)}.{quote_ident(TABLE)}"
    cols = ", ".join(f"{quote_ident(name)} {typ}" for name, typ in COLUMNS)
    projection = (
        "event_date date WITH (partition_projection_type = 'date', "
        "partition_projection_format = 'yyyy-MM-dd', "
        f"partition_projection_range = ARRAY[{quote_literal(first.isoformat())}, 'NOW'], "
        "partition_projection_interval = 1, partition_projection_interval_unit = 'DAYS')"
    )
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(DATABASE)}",
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} ({cols}, {projection}) WITH ("
        f"format = 'PARQUET', external_location = {quote_literal(location)}, "
        "partitioned_by = ARRAY['event_date'], partition_projection_enabled = true, "
        f"partition_projection_location_template = {quote_literal(location + '/${event_date}')})",
    ]
    window = Window(first, max([today, *days]))
    for name, view in all_views().items():
        body = trino_view(view, table, window)
        statements.append(f"CREATE OR REPLACE VIEW {quote_ident(DATABASE)}.{quote_ident(name)} "
                          f"AS {body}")  # fmt: skip
    conn = trino.connect()
    try:
        cur = conn.cursor()
        for sql in statements:
            cur.execute(sql)
            cur.fetchall()
    finally:
        conn.close()


# -- helpers and the command line -----------------------------------------------------------


def _props(values: dict) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


RUN_DIR = CACHE / "trino-run"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.trino.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("start", help="set up and start Trino in the background")
    up.add_argument("--store", type=Path, default=REPO / "data" / "audit",
                    help="the store to register as Teleport's table (default data/audit)")  # fmt: skip
    up.add_argument("--no-prune", action="store_true", help="keep every plugin")
    sub.add_parser("stop", help="stop the Trino that `start` left running")
    args = parser.parse_args(argv)
    pid_file = RUN_DIR / "trino.pid"
    if args.command == "stop":
        if not pid_file.exists():
            _say("no Trino of `make trino` is running")
            return 0
        stop_pid(int(pid_file.read_text()))
        pid_file.unlink()
        _say("stopped")
        return 0
    if pid_file.exists():
        _say(f"a Trino is already running (pid {pid_file.read_text().strip()}): make trino-stop")
        return 1
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    try:
        trino = Trino(install(not args.no_prune), RUN_DIR, free_port())
        trino.write_config()
        seconds = trino.start()
    except TrinoUnavailable as e:
        _say(str(e))
        return 1
    _say(f"Trino {VERSION} answers at {trino.url} (started in {seconds:.1f} s, pid {trino.pid})")
    if args.store.is_dir():
        register_store(trino, args.store)
        _say(f"{CATALOG}.{DATABASE}.{TABLE} and accessmon's views read {args.store}")
    else:
        _say(f"no store at {args.store}: run `make demo` first, then `make trino` again")
    _say(f"query it: trino-python-client, or {trino.url}/ui/ (user: any name)")
    _say(f"stop it:  make trino-stop   (or kill {trino.pid})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
