"""Security reports: definitions, runs, state, and the notebook that renders them.

The names below are what the report notebook and Python users call.
"""

from accessmon.reports.html import display_report
from accessmon.reports.results import load_results
from accessmon.reports.run import run_report

__all__ = ["display_report", "load_results", "run_report"]
