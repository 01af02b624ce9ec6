"""The course in a real browser: headless Chromium drives JupyterLab as a student and an
instructor would.

JupyterLab starts as `make lab` starts it (loopback, a token, nbgrader's extensions), in a
temporary copy of the course so that what the browser saves stays there. For every student
notebook: open it, run all cells, press nbgrader's Validate button and read its dialog; for the
instructor: the formgrader lists the course's assignments. Screenshots of each step are written
to ``$CNNCOURSE_SCREENSHOTS`` (default ``artifacts/screenshots/``, not committed) for people
to look at.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` Python package
(the dev extra; it drives the installed Chromium, nothing is downloaded). Skipped, saying so,
where Chromium is missing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from pathlib import Path

import pytest
from autograde import reference_answers, source_notebook, with_answers, written_answers
from harness import assignments
from test_lab import _free_port, serving

from cnncourse.notebooks import read_notebook, write_notebook

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("CNNCOURSE_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
pytestmark = [
    pytest.mark.slow, pytest.mark.xdist_group("lab"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's `chromium` "
                       "package (`.ci/run` does) to run the browser tests"),
]
ANSWERED = "01_convolution"  # also validated with the reference answers filled in


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a scratch copy of the course: (base url, token, course copy)."""
    course = tmp_path_factory.mktemp("browser") / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for folder in ("notebooks", "solutions"):
        shutil.copytree(ROOT / folder, course / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    answered = course / "notebooks" / ANSWERED / f"{ANSWERED}-answered.ipynb"
    release = read_notebook(course / "notebooks" / ANSWERED / f"{ANSWERED}.ipynb")
    source = source_notebook(ROOT, ANSWERED)  # the code answers and the written ones
    write_notebook(with_answers(release, {**reference_answers(source),
                                          **written_answers(source)}), answered)
    port, token = _free_port(), secrets.token_hex(16)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = [str(bindir / "jupyter"), "lab", "--ServerApp.root_dir=notebooks", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
            f"--Exchange.root={course / 'exchange'}"]  # the formgrader's release/collect
    (course / "exchange").mkdir()
    if os.geteuid() == 0:
        args.append("--allow-root")
    with serving(args, course, port, token, env) as base:
        yield base, token, course


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="the dev extra has playwright")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _open(browser, lab, path: str):
    base, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: no tabs of the last test
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session"
                           ".kernel && window.jupyterapp.shell.currentWidget.sessionContext"
                           ".session.kernel.connectionStatus === 'connected'")
    return page


def _run_all(page) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')];"
        " return prompts.some(p => /\\[\\d+\\]/.test(p.textContent))"
        " && !prompts.some(p => p.textContent.includes('*'))"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'; }", timeout=300_000, polling=500)


def _validate(page) -> tuple[str, str]:
    """Press nbgrader's Validate button; the result dialog's (title, text)."""
    page.locator(".validate-button:visible").first.click()
    dialog = page.wait_for_selector(".jp-Dialog-content", timeout=300_000)
    page.wait_for_timeout(300)  # let the dialog finish rendering before the screenshot
    title = dialog.query_selector(".jp-Dialog-header")
    return (title.inner_text() if title else ""), dialog.inner_text()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


@pytest.mark.parametrize("assignment", assignments())
def test_a_student_runs_a_notebook_and_validates_it_in_the_browser(lab, browser, assignment):
    page = _open(browser, lab, f"{assignment}/{assignment}.ipynb")
    try:
        _run_all(page)
        _shot(page, f"{assignment}-1-run-all")
        prompts = page.eval_on_selector_all(".jp-InputArea-prompt",
                                            "ps => ps.map(p => p.textContent)")
        assert any(re.search(r"\[\d+\]", p) for p in prompts), "no cell ran"
        # the unanswered release: its first test tells the student what is missing
        shown = page.evaluate("() => document.querySelector('.jp-NotebookPanel').textContent")
        assert "NotImplementedError" in shown, "no test said the answer is missing"
        title, text = _validate(page)
        _shot(page, f"{assignment}-2-validate")
        assert title.strip() == "Validation Results", (title, text[:500])
        assert "Success!" not in text, "an unanswered notebook validated clean"
        assert "NotImplementedError" in text or "failed" in text.lower(), text[:500]
    finally:
        page.close()


def test_an_answered_notebook_validates_clean_in_the_browser(lab, browser):
    page = _open(browser, lab, f"{ANSWERED}/{ANSWERED}-answered.ipynb")
    try:
        _run_all(page)
        _shot(page, f"{ANSWERED}-answered-1-run-all")
        title, text = _validate(page)
        _shot(page, f"{ANSWERED}-answered-2-validate")
        assert "Success! Your notebook passes all the tests." in text, (title, text[:800])
    finally:
        page.close()


def test_the_formgrader_lists_the_course_assignments(lab, browser):
    base, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{base}/formgrader/manage_assignments?token={token}")
        page.wait_for_function("names => names.every(n => document.body.innerText.includes(n))",
                               arg=assignments(), timeout=120_000)
        _shot(page, "formgrader-assignments")
    finally:
        page.close()
