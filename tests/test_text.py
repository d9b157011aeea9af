"""accessmon.text: the one way values become text and HTML for the analyst."""

from __future__ import annotations

import pytest

from accessmon.text import html_table, human_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (5 << 30, "5.0 GB"), (3 << 50, "3072.0 TB")],
)
def test_byte_sizes(n, text):
    assert human_bytes(n) == text


def test_html_table_escapes_names_and_values_and_takes_a_class():
    out = html_table(["<a>"], [["<script>"], [None], [[1, "x"]]], "am-results")
    assert out.startswith('<table class="am-results"><thead><tr><th>&lt;a&gt;</th>')
    assert "<td>&lt;script&gt;</td>" in out and "<td></td>" in out and "<td>[1, x]</td>" in out
    assert html_table(["a"], []).startswith("<table><thead>")
