"""A two-exercise course written by the tests themselves, for fast CLI and pipeline tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from cnncourse.authoring import answer, code, markdown, notebook, tests
from cnncourse.notebooks import write_notebook

ROOT = Path(__file__).resolve().parents[1]


def toy_notebook(extra_cells=()):
    return notebook([
        markdown("# Toy assignment"),
        code("import numpy as np"),
        answer("double", '''
def double(x):
    """Twice x, as floats."""
    ### BEGIN SOLUTION
    return 2.0 * np.asarray(x, dtype=float)
    ### END SOLUTION
'''),
        tests("test_double", 1, '''
# double: two small cases
from cnncourse.testing import check_close
check_close("double([1, 2])", double([1, 2]), [2, 4])
'''),
        tests("test_double_hidden", 2, '''
# hidden tests for double: random arrays
### BEGIN HIDDEN TESTS
import numpy as np
from cnncourse.testing import check_close
x = np.random.default_rng(0).normal(size=7)
check_close("double(random)", double(x), x * 2, say=False)
### END HIDDEN TESTS
'''),
        answer("halve", '''
def halve(x):
    """Half of x."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) / 2
    ### END SOLUTION
'''),
        tests("test_halve", 1, '''
# halve: one case
from cnncourse.testing import check_close
check_close("halve(4)", halve(4), 2.0)
'''),
        *extra_cells,
        code("print('the last cell ran')"),
    ])


def make_toy_course(where: Path, name: str = "00_toy", nb=None) -> Path:
    """A course folder: the real nbgrader_config.py and one toy assignment in solutions/."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", where / "nbgrader_config.py")
    folder = where / "solutions" / name
    folder.mkdir(parents=True, exist_ok=True)
    write_notebook(nb if nb is not None else toy_notebook(), folder / f"{name}.ipynb")
    return where
