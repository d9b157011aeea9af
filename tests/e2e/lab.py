"""What the analyst does, for the browser tests: a fresh project after `make demo`, JupyterLab
started as `make lab` starts it, and Chromium clicking through it.

Everything here waits for a state (a selector, a status, a count), never for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

#: The venv's scripts: the same `accessmon` and `jupyter` that `make` runs.
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
ENABLE = (
    "browser tests need Playwright and Debian's Chromium: "
    "pip install -e '.[dev]' && apt-get install chromium"
)
#: Generous, for a loaded 2-core CI machine; a passing test waits far less.
KERNEL_TIMEOUT = 60_000
RUN_TIMEOUT = 90_000
UI_TIMEOUT = 30_000


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ENABLE
    return None if CHROMIUM.is_file() else ENABLE


def clean_env(project: Path, state: Path) -> dict[str, str]:
    """The environment of a fresh shell: no ACCESSMON_* at all, the project's own code first
    (a clone's editable install imports its checkout; this copy is that checkout), and Jupyter's
    and IPython's per-user state in `state`, so ~/.jupyter and ~/.ipython play no part."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project), env.get("PYTHONPATH")]))
    for name, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (state / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(state / sub)
    return env


def copy_checkout(src: Path, dest: Path) -> int:
    """The files `git ls-files -co --exclude-standard` lists in `src` (so uncommitted work is
    included), copied to `dest` with symlinks kept as links; never .venv or data/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"],
        cwd=src, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    copied = 0
    for rel in filter(None, listed):
        if rel.split("/")[0] in {".venv", "data"}:
            continue
        source = src / rel
        if not source.is_symlink() and not source.exists():  # deleted, not yet committed
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
        copied += 1
    return copied


def run_script(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run one of the venv's scripts as `make` does; its duration in seconds."""
    start = time.monotonic()
    out = subprocess.run(
        [str(BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}:\n{out.stdout}\n{out.stderr}")
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: JupyterLab settings a fresh user would otherwise be asked about, or that hide cells:
#: no news or update toasts, and every cell in the DOM so a test can count all outputs.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class Lab:
    """A running `jupyter lab notebooks/`, as `make lab` starts it, headless."""

    project: Path
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen | None = None
    started_in: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Lab:
        settings = Path(self.env["JUPYTERLAB_SETTINGS_DIR"])
        for rel, value in LAB_SETTINGS.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(json.dumps(value), encoding="utf-8")
        start = time.monotonic()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "jupyter"), "lab", "notebooks/", "--no-browser", "--allow-root",
                 "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={self.token}",
                 "--port", str(self.port), "--ServerApp.port_retries=0",
                 "--ServerApp.open_browser=False"],
                cwd=self.project, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{self.log_tail()}")
            try:
                self.api("GET", "status")
                self.started_in = time.monotonic() - start
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)  # polling the server's own readiness, not waiting for a state
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer in {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/api/{path}?token={self.token}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def url(self, notebook: str) -> str:
        """`reset`: no notebook of an earlier test comes back from the saved workspace."""
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"

    def new_notebook(self, name: str, cells: list[str]) -> None:
        """A notebook in notebooks/ (the server's root), on the `accessmon` kernel."""
        content = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {
                "kernelspec": {
                    "name": "accessmon",
                    "display_name": "accessmon",
                    "language": "python",
                },
                "language_info": {"name": "python"},
            },
            "cells": [
                {
                    "cell_type": "code",
                    "id": f"cell-{i}",
                    "metadata": {},
                    "source": source,
                    "outputs": [],
                    "execution_count": None,
                }
                for i, source in enumerate(cells)
            ],
        }
        self.api("PUT", f"contents/{name}", {"type": "notebook", "format": "json",
                                              "content": content})  # fmt: skip

    def shut_down_kernels(self) -> None:
        """Every test starts on a fresh kernel: no widget or variable from the one before."""
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")


# -- the browser ---------------------------------------------------------------------------


def expect(target: Any) -> Any:
    """Playwright's `expect`, imported on use: collecting the tests needs no Playwright."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def dismiss_dialogs(page: Page) -> list[str]:
    """Close any JupyterLab dialog (kernel choice, build recommended...); their texts."""
    seen = []
    dialogs = page.locator(".jp-Dialog")
    while dialogs.count():
        dialog = dialogs.first
        seen.append(dialog.inner_text())
        reject = dialog.locator(".jp-Dialog-button.jp-mod-reject")
        if reject.count():
            reject.first.click()
        else:
            page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=UI_TIMEOUT)
    return seen


def open_notebook(page: Page, lab: Lab, name: str) -> Locator:
    """Open notebooks/<name> as the analyst does; the notebook panel once its kernel is idle."""
    from playwright.sync_api import expect

    page.goto(lab.url(name))
    panel = page.locator(".jp-NotebookPanel").filter(visible=True)
    expect(panel).to_have_count(1, timeout=UI_TIMEOUT)
    wait_kernel_idle(page, panel)
    return panel


def wait_kernel_idle(page: Page, panel: Locator, timeout: int = KERNEL_TIMEOUT) -> None:
    """The status bar says `accessmon | Idle`: the notebook's kernel has started and is connected.

    (The toolbar's execution indicator says idle before any kernel exists.)"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    status = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^\S+ \| \S+$"))
    idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^accessmon \| Idle$"))
    deadline = time.monotonic() + timeout / 1000
    seen: list[str] = []
    while True:
        seen += dismiss_dialogs(page)
        try:
            idle.wait_for(state="visible", timeout=2_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the kernel did not become idle: status {status.all_inner_texts()}, "
                    f"dialogs seen: {seen or 'none'}"
                ) from None


def run_all(page: Page, panel: Locator) -> None:
    """Run ▸ Run All Cells, from the menu bar, on the notebook in front."""
    panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))
    page.locator(".lm-Menu-item", has=label).click()  # lumino acts on the item, not its label


def outputs_text(panel: Locator, chars: int = 3000) -> str:
    """What the notebook shows in its outputs: the explanation when an expected state is missing."""
    return "\n".join(panel.locator(".jp-OutputArea-output").all_inner_texts())[-chars:]


def expect_state(panel: Locator, locator: Locator, timeout: int = RUN_TIMEOUT, **kw: Any) -> None:
    """`locator` becomes visible (or reaches `count=`); if not, fail with the outputs' text."""
    from playwright.sync_api import expect

    try:
        if "count" in kw:
            expect(locator).to_have_count(kw["count"], timeout=timeout)
        else:
            expect(locator.first).to_be_visible(timeout=timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- notebook outputs ---\n{outputs_text(panel)}") from None


def screenshot_dir(repo: Path) -> Path | None:
    """Where `make screenshots` wants the README's images (ACCESSMON_SCREENSHOTS), or None."""
    value = os.environ.get("ACCESSMON_SCREENSHOTS")
    if not value:
        return None
    path = Path(value) if Path(value).is_absolute() else repo / value
    path.mkdir(parents=True, exist_ok=True)
    return path
