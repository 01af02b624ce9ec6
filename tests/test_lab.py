"""`make lab` serves JupyterLab on notebooks/ with nbgrader's extensions, and Validate works."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lab")]  # one server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, data=data, timeout=timeout) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def lab():
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("no .venv here: `make lab` would install one; run the suite with `make test`")
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} " \
           f"--IdentityProvider.token={token} --ServerApp.open_browser=False"
    with serving(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], ROOT, port, token,
                 dict(os.environ)) as base:
        yield base, token


@contextlib.contextmanager
def serving(cmd: list[str], cwd: Path, port: int, token: str, env: dict):
    """Run a JupyterLab command until it answers on `port` (its base url), then stop it."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.poll() is not None else "(still running)"
                pytest.fail(f"JupyterLab did not come up on {base}:\n{out[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop make, JupyterLab and its kernels (one process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def test_lab_serves_the_student_notebooks(lab):
    base, token = lab
    status, body = _get(f"{base}/api/contents/01_convolution?token={token}")
    assert status == 200
    assert "01_convolution.ipynb" in {item["name"] for item in json.loads(body)["content"]}


def test_lab_page_loads_nbgrader_extension(lab):
    base, token = lab
    status, page = _get(f"{base}/lab?token={token}")
    assert status == 200 and "@jupyter/nbgrader" in page


def test_validate_button_reports_an_unanswered_notebook(lab):
    """What the Validate button calls: nbgrader's validate_assignment server extension."""
    base, token = lab
    data = urllib.parse.urlencode({"path": "01_convolution/01_convolution.ipynb"}).encode()
    status, body = _get(f"{base}/assignments/validate?token={token}", data=data, timeout=300)
    reply = json.loads(body)
    assert status == 200 and reply["success"], reply
    assert reply["value"].get("failed"), f"an unanswered notebook validated clean: {reply}"
