"""What the report page needs once: its stylesheet and script, plotly.js and DataTables.

Each goes out once per notebook, inline, so the exported HTML is one file that works offline
and as a mail attachment; every chart and table after it reuses them.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

#: plotly.js's partial bundle with the traces report charts use (bar, scatter, pie): about a
#: quarter of the full bundle, so a 7-day report stays far below 4 MB. From npm's
#: plotly.js-basic-dist-min, the version plotly.py draws with (`make plotly-basic`).
PLOTLY_BASIC = "plotly-basic.min.js"


def _read(name: str) -> str:
    return (resources.files("accessmon") / "templates" / "report" / name).read_text("utf-8")


@cache
def plotlyjs_source() -> str:
    """The basic bundle when it is the version plotly.py expects, else plotly's full one."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    basic = _read(PLOTLY_BASIC)
    found = re.search(r"plotly\.js \(basic - minified\) v(\S+)", basic[:300])
    if found and found.group(1) == get_plotlyjs_version():
        return basic
    return get_plotlyjs()


def plotlyjs_bundle() -> dict[str, str]:
    """plotly.js, once per notebook, inline: exported HTML then draws its charts offline.

    plotly's own renderers either need a CDN (`notebook_connected`), render nothing
    headless (`plotly_mimetype`), or add a MathJax CDN script to every chart (`notebook`).
    """
    return {"text/html": f'<script type="text/javascript">{plotlyjs_source()}</script>'}


@cache
def datatables_html() -> str:
    """DataTables as itables embeds it offline (its `init_notebook_mode(connected=False)`
    output), without the dark-mode probe that imports from a CDN: every table waits for it."""
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    return generate_init_offline_itables_html(options.dt_bundle)


def page_assets() -> str:
    """The report's stylesheet and its drill-down script (a few lines, see report.js)."""
    return f"<style>{_read('report.css')}</style><script>{_read('report.js')}</script>"


def libraries_bundle() -> dict[str, str]:
    """plotly.js and DataTables, in one output: sent once, before the first chart and table."""
    return {"text/html": plotlyjs_bundle()["text/html"] + datatables_html()}
