"""Tests of accessmon.engines."""
