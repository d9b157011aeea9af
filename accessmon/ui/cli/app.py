"""The `accessmon` command, shaped like `tctl audit` so Teleport users feel at home.

This module is the root group and its error handling; each command group lives in its own
module (store, query, report, alert, info) and is added here, the one place that imports them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from accessmon.errors import AccessmonError
from accessmon.ui.cli.alert import alert
from accessmon.ui.cli.common import global_options
from accessmon.ui.cli.info import doctor, schema, whoami
from accessmon.ui.cli.query import query
from accessmon.ui.cli.report import report
from accessmon.ui.cli.store import cache_group, demo, ingest, summary
from accessmon.ui.cli.suppress import suppress


class _Group(click.Group):
    """Turns AccessmonError into one line on stderr: analysts never see a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not in Python's shutdown
            return result
        except BrokenPipeError:  # `accessmon ... | head`: end quietly, as git and ls do
            _silence_stdout()
            ctx.exit(141)  # 128 + SIGPIPE, what the shell reports for them
        except AccessmonError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if os.environ.get("ACCESSMON_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(e).__name__}: {e} (set ACCESSMON_DEBUG=1 for a traceback)",
                err=True,
            )
            ctx.exit(2)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing what is left at exit cannot fail again (the
    recipe of Python's signal docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="accessmon")
def main() -> None:
    """accessmon: SQL views, role checks and reports over Teleport audit logs."""
    _log_to_stderr()


def _log_to_stderr() -> None:
    """Notices and warnings (e.g. single-user mode) as plain lines on stderr."""
    log = logging.getLogger("accessmon")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False


for _command in (
    ingest,
    demo,
    cache_group,
    summary,
    schema,
    query,
    report,
    suppress,
    whoami,
    doctor,
    alert,
):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
