"""Tests of accessmon.storage."""
