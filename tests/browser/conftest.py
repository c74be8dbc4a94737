"""Fixtures for the real-browser check: a JupyterLab server and Debian's headless Chromium.

The server runs from this venv on 127.0.0.1, a free port and a random token, with autosave off
(so running a notebook in the browser never rewrites the stored one) and is always stopped, with
its kernels, at the end. Chromium is the system's (`apt-get install chromium`); Playwright's own
browser download is not used.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SERVER_START_TIMEOUT = 90  # seconds; generous for a busy 2-core CI machine
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab settings for the test: no autosave (the stored notebooks stay as committed), every
# cell in the DOM (no virtual scrolling, so the test can read all prompts), no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    url: str  # http://127.0.0.1:PORT
    token: str
    log: Path
    runtime_dir: Path  # the kernels' connection files live here while they run

    def notebook_url(self, path: str) -> str:
        """The notebook alone in a fresh workspace of its own (so no earlier notebook is restored beside it)."""
        workspace = Path(path).stem
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"

    def folder_url(self, path: str, workspace: str) -> str:
        """JupyterLab with its file browser in the folder `path`, in a fresh workspace of that name."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"

    def api(self, method: str, endpoint: str):
        """Call the server's REST API (e.g. "GET", "/api/kernels"); the decoded JSON, or None when empty."""
        request = urllib.request.Request(f"{self.url}{endpoint}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict]:
        """The kernels the server has running now."""
        return self.api("GET", "/api/kernels")

    def shut_down_kernels(self, timeout_s: float = 30) -> list[dict]:
        """End every session and kernel, as File > Shut Down All Kernels would; what still runs after `timeout_s`."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.kernels():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")
        deadline = time.monotonic() + timeout_s
        while (left := self.kernels()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left

    def notebook_sessions(self, path: str) -> list[dict]:
        """The server's sessions of the notebook at `path` (relative to the server's root)."""
        return [s for s in self.api("GET", "/api/sessions")
                if path in (s.get("path"), s.get("notebook", {}).get("path"))]

    def shut_down_notebook(self, path: str, timeout_s: float = 30) -> list[str]:
        """End the sessions (and kernels) of the notebook at `path` only; the ids of its kernels still
        running after `timeout_s`. Other notebooks' kernels keep running."""
        ids = []
        for session in self.notebook_sessions(path):
            ids.append(session["kernel"]["id"])
            self.api("DELETE", f"/api/sessions/{session['id']}")
        running = lambda: [k["id"] for k in self.kernels() if k["id"] in ids]  # noqa: E731
        for kernel_id in running():
            self.api("DELETE", f"/api/kernels/{kernel_id}")
        deadline = time.monotonic() + timeout_s
        while (left := running()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left

    def kernel_processes(self, kernel_id: str | None = None) -> list[int]:
        """Process ids whose command line names a connection file of this server (of `kernel_id` only,
        when given; Linux /proc; [] elsewhere)."""
        mark = str(self.runtime_dir / f"kernel-{kernel_id}.json") if kernel_id else str(self.runtime_dir)
        pids = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if mark.encode() in cmdline.read_bytes():
                    pids.append(int(cmdline.parent.name))
            except OSError:  # the process ended while we looked
                continue
        return pids

    def log_tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (the server and its kernels), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def chromium_path() -> str:
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -r requirements.txt")
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, chromium_path) -> LabServer:
    """A JupyterLab server rooted at the repository; stopped (with its kernels) however the tests end."""
    home = tmp_path_factory.mktemp("jupyterlab")
    settings = home / "settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    log = home / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={REPO_ROOT}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    env.pop("MPLBACKEND", None)  # kernels must use the inline backend to show figures
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, log, home / "runtime")
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with code {proc.returncode} before answering:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT} s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
