"""Tests of accessmon.access."""
