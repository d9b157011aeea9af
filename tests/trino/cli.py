"""Trino's own command-line client, the oracle for the text of values: it prints what a Trino
client shows for each type (maps `{a=1}`, arrays `[a, b]`, rows `{n=1}`, doubles as Java
prints them), the strings Athena returns. Fetched through Maven like the server, so it is kept
in `~/.m2`; run with the server's Java."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from tests.trino import server

ARTIFACT = f"io.trino:trino-cli:{server.VERSION}:jar:executable"


def jar() -> Path:
    """The CLI's executable jar in the local Maven repository, fetched there first if missing."""
    local_repo = Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2" / "repository"))
    path = local_repo / "io/trino/trino-cli" / server.VERSION
    path = path / f"trino-cli-{server.VERSION}-executable.jar"
    if path.is_file():
        return path
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["mvn", "-q", f"-Dmaven.repo.local={local_repo}", f"{server.DEPENDENCY_PLUGIN}:copy",
             f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={out}"],
            check=True,
        )  # fmt: skip
    if not path.is_file():
        raise server.TrinoUnavailable(f"Maven did not leave {path}")
    return path


def tsv(trino: server.Trino, sql: str) -> list[list[str]]:
    """The rows of `sql` as the CLI prints them (TSV, header first); NULL is empty."""
    java = server.java_home() / "bin" / "java"
    out = subprocess.run(
        [java, "--enable-native-access=ALL-UNNAMED", "-jar", jar(), "--server", trino.url,
         "--catalog", server.CATALOG, "--schema", server.DATABASE, "--user", "accessmon",
         "--timezone", "UTC", "--output-format", "TSV_HEADER", "--execute", sql],
        capture_output=True, text=True, check=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return [line.split("\t") for line in out.stdout.splitlines()]
