"""Tests of accessmon.sql."""
