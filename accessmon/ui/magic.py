"""IPython magics, as in jupysql: `%%accessmon` runs a cell of SQL, `%accessmon` does the rest.

    %load_ext accessmon
    %%accessmon [--days N | --from D --to D] [-o VAR]     the cell's SQL -> a DataFrame
    %accessmon [--days N | --from D --to D] SELECT ...    the same, on one line
    %accessmon schema [VIEW]                              the views, or one view's columns
    %accessmon report NAME [--days N | --from D --to D]   a security report, inline

Every magic takes the CLI's global options (--store, --config, --user, --engine) and goes
through a `Session`, so it passes the same role checks and writes the same audit trail as
the CLI. Errors print one line on stderr, never a traceback. The options are declared with
`IPython.core.magic_arguments`, so `%accessmon?` shows them.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, kwds, magic_arguments

from accessmon.config import ENGINE_NAMES
from accessmon.errors import AccessmonError, MissingStore
from accessmon.sql.raw_event import RAW_COLUMN

if TYPE_CHECKING:
    from accessmon.session import Session

USAGE = (
    "usage: %%accessmon [--days N | --from D --to D] [-o VAR] [--store DIR] [--config FILE]  "
    "(SQL in the cell); %accessmon [same options] SELECT ...; %accessmon schema [VIEW] "
    "[--store DIR]; %accessmon report NAME [--days N | --from D --to D] [--store DIR]"
)
_GLOBAL_KEYS = ("store", "config_file", "user", "engine")
#: The options that may precede SQL on a line: all of them take one value.
_LINE_OPTION = re.compile(
    r"""\s*(-o|--out|--days|--from|--to|--store|--config|--user|--engine)(?:=|\s+)"""
    r"""("[^"]*"|'[^']*'|\S+)"""
)

_WINDOW_ARGUMENTS = (
    argument("--days", type=int, help="last N days, today included [default: 7]"),
    argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day"),
    argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day"),
)
_GLOBAL_ARGUMENTS = (
    argument("-o", "--out", metavar="VAR", help="also store the result in VAR"),
    argument("--store", help="audit store directory [default: the project's data/audit]"),
    argument("--config", dest="config_file", help="accessmon.yaml to use"),
    argument("--user", help="analyst name, for the role checks"),
    argument("--engine", choices=ENGINE_NAMES, help="query engine"),
)


def _arguments(*arguments: argument) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Apply several `magic_arguments.argument`s at once, in the order given."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for arg in reversed(arguments):
            func = arg(func)
        return func

    return decorate


@magic_arguments("accessmon schema")
@kwds(add_help=True)
@_arguments(*_GLOBAL_ARGUMENTS, argument("view", nargs="?", help="a view, to list its columns"))
def _schema_arguments() -> None:
    """List the views you may query, or one view's columns and types."""


@magic_arguments("accessmon report")
@kwds(add_help=True)
@_arguments(
    *_WINDOW_ARGUMENTS,
    *_GLOBAL_ARGUMENTS,
    argument("name", help="report name, see `accessmon report ls`"),
)
def _report_arguments() -> None:
    """Run a security report and show it inline."""


class _Help(Exception):
    """--help was asked for and printed."""


def _parse(parser: argparse.ArgumentParser, line: str, prog: str) -> argparse.Namespace:
    """The options on `line`, or one AccessmonError naming the form, `prog` (`%%accessmon`)."""
    try:
        return parser.parse_args(_split(line))
    except UsageError as e:
        raise AccessmonError(f"{prog}: {e}") from None
    except SystemExit:  # --help, printed: argparse exits after it
        raise _Help from None


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as e:
        raise AccessmonError(f"cannot parse the magic's options: {e}") from None


def split_line_sql(line: str) -> tuple[str, str]:
    """Peel leading `--option value` pairs off a line; the rest is SQL, kept verbatim."""
    options, rest = [], line
    while match := _LINE_OPTION.match(rest):
        options.append(match.group(0))
        rest = rest[match.end() :]
    return "".join(options), rest.strip()


@magics_class
class AccessmonMagics(Magics):
    """One Session per shell, rebuilt when the global options, an ACCESSMON_* variable or the
    config file in force (or its modification time) change."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self._session: Session | None = None
        self._session_key: tuple[Any, ...] | None = None
        self._completion_views: tuple[Session, dict[str, list[str]]] | None = None

    @line_cell_magic
    @magic_arguments()
    @kwds(add_help=True)
    @_arguments(*_WINDOW_ARGUMENTS, *_GLOBAL_ARGUMENTS)
    def accessmon(self, line: str, cell: str | None = None) -> Any:
        """Run Trino SQL over the audit views: the cell's, or the line's after the options.
        `%accessmon schema [VIEW]` and `%accessmon report NAME` are the other forms."""
        try:
            return self._dispatch(line, cell)
        except _Help:
            return None
        except MissingStore as e:
            _error(f"{e}; or pass --store DIR to %%accessmon")
        except AccessmonError as e:
            _error(str(e))
        except Exception as e:
            if os.environ.get("ACCESSMON_DEBUG"):
                raise
            _error(
                f"internal error: {type(e).__name__}: {e} (set ACCESSMON_DEBUG=1 for a traceback)"
            )
        return None

    def _dispatch(self, line: str, cell: str | None) -> Any:
        parser = self.accessmon.parser
        if cell is not None:
            return self._query(_parse(parser, line, "%%accessmon"), cell)
        command, _, rest = line.strip().partition(" ")
        if command == "schema":
            return self._schema(_parse(_schema_arguments.parser, rest, "%accessmon schema"))
        if command == "report":
            return self._report(_parse(_report_arguments.parser, rest, "%accessmon report"))
        options, sql = split_line_sql(line)
        if not sql:
            raise AccessmonError(USAGE)
        return self._query(_parse(parser, options, "%accessmon"), sql)

    def session(self, args: argparse.Namespace) -> Session:
        """The shell's Session; a new one when --store, --config, --user or --engine change,
        or what the configuration is built from: `%env ACCESSMON_STORE=...` takes effect at
        the next use, as does an edit of accessmon.yaml or a `%cd` into another project."""
        from accessmon.session import Session

        flags = {key: getattr(args, key) for key in _GLOBAL_KEYS}
        key = (tuple(flags.values()), *_environment_key(flags["config_file"]))
        if self._session is None or key != self._session_key:
            if self._session is not None:
                self._session.close()
                self._session = None
            self._session = Session(**flags)
            self._session_key = key
        return self._session

    def completion_schema(self, options: str) -> Mapping[str, Sequence[str]]:
        """view -> column names that the cell's session may list, for completion: asked
        (and audited) once per Session; nothing when the options or the session are wrong."""
        try:
            session = self.session(_parse(self.accessmon.parser, options, "%%accessmon"))
            if self._completion_views is None or self._completion_views[0] is not session:
                views = session.views()
                self._completion_views = (
                    session,
                    {n: [*v.column_names, RAW_COLUMN] for n, v in views.items()},
                )
            return self._completion_views[1]
        except (AccessmonError, _Help):
            return {}

    def _store(self, name: str | None, value: Any) -> None:
        if name:
            if not name.isidentifier():
                raise AccessmonError(f"-o needs a Python variable name, not {name!r}")
            self.shell.user_ns[name] = value

    def _query(self, args: argparse.Namespace, sql: str) -> Any:
        if not sql.strip():
            raise AccessmonError("the cell holds no SQL")
        session = self.session(args)
        window = session.query_window(sql, args.days, args.start, args.end)
        frame = session.run(sql, window).to_pandas()
        self._store(args.out, frame)
        return frame

    def _schema(self, args: argparse.Namespace) -> None:
        from accessmon.sql.views import get_view

        allowed = self.session(args).views()
        if args.view:
            view = get_view(args.view)
            print(f"{view.name}  (event {view.event_type}, codes {view.codes})")
            width = max(len(c.name) for c in view.columns)
            for c in view.columns:
                print(f"  {c.name:<{width}}  {c.type}")
            self._store(args.out, [(c.name, c.type) for c in view.columns])
            return
        for view in allowed.values():
            print(f"{view.name:<32} {view.event_type:<32} {len(view.columns)} columns")
        self._store(args.out, list(allowed))

    def _report(self, args: argparse.Namespace) -> None:
        from accessmon import reports
        from accessmon.window import Window

        session = self.session(args)
        window = Window.resolve(args.days, args.start, args.end)
        # compared with the report's history in output_dir (read, never appended to: only a
        # headless `report run` records a run), so new, persisting and resolved show here too
        out_dir = Path(session.config.output_dir)
        run = reports.run_report(session, args.name, window, out_dir=out_dir)
        self._store(args.out, run)
        reports.display_report(run)


def _environment_key(config_file: str | None) -> tuple[Any, ...]:
    """What a Session's configuration is read from, besides the flags: the ACCESSMON_* and
    JupyterHub variables, and the config file in force with its modification time."""
    from accessmon.config import config_path

    environ = tuple(sorted((k, v) for k, v in os.environ.items()
                           if k.startswith(("ACCESSMON_", "JUPYTERHUB_"))))  # fmt: skip
    path = config_path(config_file)
    try:
        stamp = path.stat().st_mtime_ns if path is not None else None
    except OSError:
        stamp = None
    return environ, str(path.absolute()) if path else None, stamp


def _error(message: str) -> None:
    print(f"accessmon: {' '.join(message.split())}", file=sys.stderr)


def magic_sql(full_text: str, line: int, column: int) -> tuple[str, str, int] | None:
    """(options, SQL, cursor offset in the SQL) when the cursor is in the SQL of a
    `%%accessmon` cell or after `%accessmon ` on a line; None elsewhere."""
    lines = full_text.split("\n")
    if lines[0].lstrip().startswith("%%accessmon") and line >= 1:
        options = lines[0].lstrip()[len("%%accessmon") :]
        offset = sum(len(text) + 1 for text in lines[1:line]) + column
        return options, "\n".join(lines[1:]), offset
    text = lines[line] if line < len(lines) else ""
    stripped = text.lstrip()
    if not stripped.startswith("%accessmon ") or stripped.split()[1:2] in (["schema"], ["report"]):
        return None
    rest_at = len(text) - len(stripped) + len("%accessmon ")
    options, sql = split_line_sql(text[rest_at:])
    sql_at = text.index(sql, rest_at) if sql else len(text)
    if column < sql_at:
        return None
    return options, text[sql_at:], column - sql_at


_FRAGMENT = re.compile(r"[A-Za-z_][\w$]*$")


def sql_matcher(magics: AccessmonMagics) -> Callable[[CompletionContext], SimpleMatcherResult]:
    """An IPython matcher that completes view and column names inside the magic's SQL."""
    from accessmon.sql.complete import complete

    @context_matcher()
    def accessmon_sql_matcher(context: CompletionContext) -> SimpleMatcherResult:
        found = magic_sql(context.full_text, context.cursor_line, context.cursor_position)
        if found is None:
            return {"completions": [], "suppress": False}
        options, sql, offset = found
        words = complete(sql, offset, magics.completion_schema(options))
        fragment = _FRAGMENT.search(sql[:offset])
        return {
            "completions": [SimpleCompletion(w, type="sql") for w in words],
            "matched_fragment": fragment.group(0) if fragment else "",
            "suppress": True,  # Python names are no help inside SQL
            "ordered": True,
        }

    return accessmon_sql_matcher


def register(ipython: Any) -> None:
    """Register the magics and their SQL completion with a shell; `%load_ext accessmon`
    calls this (again on a reload: the completion is registered once)."""
    from accessmon.ui.notices import show_notices_in_notebook

    show_notices_in_notebook()  # the single-user notice is information, not red stderr
    magics = AccessmonMagics(ipython)
    ipython.register_magics(magics)
    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        completer.custom_matchers[:] = [
            m for m in completer.custom_matchers
            if getattr(m, "__name__", "") != "accessmon_sql_matcher"
        ]  # fmt: skip
        completer.custom_matchers.append(sql_matcher(magics))
