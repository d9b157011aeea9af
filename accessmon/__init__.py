"""accessmon: Teleport's Access Monitoring views, role checks and reports, open and local.

`import accessmon` stays light; engines, pandas and plotly load when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accessmon.errors import AccessmonError

__version__ = "0.1.0"
__all__ = ["AccessmonError", "Session", "__version__", "query"]

if TYPE_CHECKING:
    from accessmon.session import Session, query


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext accessmon`: the %%accessmon cell magic and %accessmon line magic."""
    from accessmon.ui.magic import register

    register(ipython)


def __getattr__(name: str) -> Any:
    if name in ("Session", "query"):
        from accessmon import session

        return getattr(session, name)
    raise AttributeError(f"module 'accessmon' has no attribute {name!r}")
