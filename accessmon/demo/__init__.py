"""Synthetic Teleport audit events, so the workbench can be tried without a Teleport cluster."""

from accessmon.demo.events import generate, iter_chunks, write_demo

__all__ = ["generate", "iter_chunks", "write_demo"]
