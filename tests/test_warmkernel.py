"""Warm kernels for grading: forked from a zygote that imported ipykernel, NumPy and PyTorch,
they behave as fresh kernels (own state, inline plots, interrupts), and without the zygote the
kernelspec still starts an ordinary kernel."""

from __future__ import annotations

import os

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from cnncourse.grading.env import WARM_SOCKET
from cnncourse.grading.warmkernel import KERNEL_NAME, Zygote

pytestmark = pytest.mark.slow


@pytest.fixture
def zygote(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    monkeypatch.setenv(WARM_SOCKET, "")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the suite draws with Agg; kernels inline
    z = Zygote(tmp_path / "kernels")
    z.start()
    ready = z.socket + ".ready"
    import time

    deadline = time.monotonic() + 120
    while not os.path.exists(ready) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert os.path.exists(ready), "the zygote did not come up"
    yield z
    z.stop()


def _run(*sources, timeout=60, cwd=None):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    where = {"metadata": {"path": str(cwd or os.getcwd())}}
    NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=timeout, allow_errors=True,
                   interrupt_on_timeout=True, resources=where).execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                   for o in cell.outputs)


def test_a_warm_kernel_starts_with_torch_imported_and_no_state(zygote, tmp_path):
    first = _run("import sys, os\nprint('torch' in sys.modules, 'matplotlib.pyplot' in "
                 "sys.modules, os.getcwd())", "secret = 42", cwd=tmp_path)
    assert _text(first.cells[0]).split() == ["True", "True", str(tmp_path)]
    second = _run("print('secret' in globals())")
    assert _text(second.cells[0]).strip() == "False", "a kernel kept another kernel's state"


def test_a_warm_kernel_draws_inline_plots_and_can_be_interrupted(zygote):
    nb = _run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);",
              "import time\nwhile True:\n    time.sleep(0.05)", "print('after')", timeout=5)
    assert any("image/png" in o.get("data", {}) for o in nb.cells[0].outputs)
    assert any(o.get("ename") == "KeyboardInterrupt" for o in nb.cells[1].outputs), \
        "SIGINT did not reach the forked kernel through the client"
    assert _text(nb.cells[2]).strip() == "after"


def test_without_the_zygote_the_kernelspec_starts_an_ordinary_kernel(zygote):
    zygote.stop()
    nb = _run("import sys\nprint('torch' in sys.modules)")
    assert _text(nb.cells[0]).strip() == "False"
