"""Engines share one interface; each is chosen by name and imported only when used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from accessmon.errors import ConfigError

if TYPE_CHECKING:
    from accessmon.config import Config
    from accessmon.engines.base import Engine

#: name -> "module:class" (config.ENGINE_NAMES lists the same names); heavy drivers
#: (pyathena, boto3, trino) load only with their engine.
ENGINES = {
    "duckdb": "accessmon.engines.duckdb:DuckDBEngine",
    "athena": "accessmon.engines.athena:AthenaEngine",
    "trino": "accessmon.engines.trino:TrinoEngine",
}
#: name -> (the driver packages it needs, the extra of accessmon that installs them).
DRIVERS = {"athena": (("pyathena", "boto3"), "athena"), "trino": (("trino",), "trino")}


def get_engine(config: Config, user: str = "unknown") -> Engine:
    """The engine the configuration names (the Config model admits only known names)."""
    packages, extra = DRIVERS.get(config.engine, ((), ""))
    missing = [p for p in packages if not _importable(p)]
    if missing:
        raise ConfigError(
            f"engine {config.engine} needs {' and '.join(missing)}, which are not installed: "
            f"pip install 'accessmon[{extra}]'"
        )
    module, _, cls = ENGINES[config.engine].partition(":")
    return getattr(importlib.import_module(module), cls)(config, user)


def _importable(package: str) -> bool:
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True
