"""`accessmon`, the command line: one module per command group."""

from accessmon.ui.cli.app import main

__all__ = ["main"]
