"""The leak check that guards every release: what counts as giving an answer away."""

from toycourse import toy_notebook

from cnncourse.authoring import answer, code, markdown, notebook
from cnncourse.authoring import tests as graded_test
from cnncourse.release import find_leaks, secret_lines


def test_secret_lines_are_solution_and_hidden_lines_minus_harmless_ones():
    secret = secret_lines(toy_notebook())
    assert "return 2.0 * np.asarray(x, dtype=float)" in secret
    assert 'check_close("double(random)", double(x), x * 2, say=False)' in secret
    assert "import numpy as np" not in secret
    assert "from cnncourse.testing import check_close" not in secret


def test_an_honest_release_has_no_leak():
    source = toy_notebook()
    release = notebook([markdown("# Toy"), code("import numpy as np"),
                        code("def double(x):\n    # YOUR CODE HERE\n"
                             "    raise NotImplementedError()")])
    assert find_leaks(source, release, "r.ipynb") == []


def test_a_hidden_line_in_a_visible_test_is_found_with_cell_and_line():
    source = toy_notebook()
    release = notebook([markdown("# Toy"),
                        graded_test("t", 1, "# oops\nx = np.random.default_rng(0).normal(size=7)")])
    (leak,) = find_leaks(source, release, "r.ipynb")
    assert (leak.cell, leak.line) == (2, 2)
    assert str(leak).startswith("r.ipynb: cell 2, line 2 gives away: x = np.random")


def test_leftover_markers_are_leaks():
    release = notebook([code("### BEGIN SOLUTION\npass\n### END SOLUTION")])
    assert len(find_leaks(toy_notebook(), release, "r")) == 2


def test_module_boilerplate_is_not_a_secret_but_the_layers_are():
    source = notebook([
        answer("Net", "class Net(nn.Module):\n    def __init__(self):\n        ### BEGIN SOLUTION\n"
               "        super().__init__()\n        self.fc = nn.Linear(4, 2)\n\n"
               "    def forward(self, x):\n        return self.fc(x)\n        ### END SOLUTION"),
    ])
    secret = secret_lines(source)
    assert secret == {"self.fc = nn.Linear(4, 2)", "return self.fc(x)"}
