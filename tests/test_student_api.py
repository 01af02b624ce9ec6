"""The student toolbox keeps every name the notebooks import: students hold old notebooks.

A notebook in a student's hands imports `from cnncourse.plot import show_feature_maps` long after
the course has moved on, so a name that shipped in a notebook stays importable from the module it
shipped with. The names are read from every code cell of solutions/ and notebooks/ (and from the
grader's probes), and pinned below by hand: dropping an import from today's notebooks does
not free the package to drop the name, and a new import is pinned on purpose.
"""

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("solutions/*/*.ipynb"), *ROOT.glob("notebooks/*/*.ipynb")])
PROBES = sorted([*ROOT.glob("probes/*.py"), *ROOT.glob("tests/probes/*.py")])  # old home kept

# Every name the notebooks import from the student toolbox, by module. Add a name here when a
# notebook starts to import it; never remove one: a student's old notebook still imports it.
PINNED: dict[str, set[str]] = {
    "cnncourse.architectures": {
        "ALEXNET", "ALEXNET_INPUT", "LENET5", "LENET5_INPUT", "SIMPLE_CNN", "SIMPLE_CNN_INPUT",
        "VGG16", "VGG16_INPUT", "describe", "layer_names",
    },
    "cnncourse.budget": {"being_graded", "demo_budget"},
    "cnncourse.charts": {
        "plot_accuracy_vs_parameters", "plot_cost_comparison", "plot_layer_shares",
        "plot_receptive_field", "show_windows_1d",
    },
    "cnncourse.claims": {"claim_box"},
    "cnncourse.curves": {"plot_curves"},
    "cnncourse.data": {"mnist_arrays", "mnist_loaders", "normalize_images"},
    "cnncourse.device": {"pick_device", "use_threads"},
    "cnncourse.gradcheck": {"numerical_gradient", "relative_error"},
    "cnncourse.diagnostics": {
        "confusion_matrix", "layer_outputs", "plot_confusion_matrix", "show_filters",
        "show_layer_outputs", "show_misclassified",
    },
    "cnncourse.images": {"grace_hopper"},
    "cnncourse.invariance": {
        "DIRECTIONS", "cosine_similarity", "invariance_curves", "plot_invariance", "pooled",
        "shift_images",
    },
    "cnncourse.locally_connected": {"LocallyConnected2d"},
    "cnncourse.overfitting": {"make_mlp", "mnist_subset", "train_curves"},
    "cnncourse.plot": {
        "show_feature_maps", "show_image", "show_images", "show_matrix", "show_sliding_window",
    },
    "cnncourse.pooling_plots": {"show_pooling"},
    "cnncourse.testing": {"Checks", "check_close", "check_equal", "check_raises", "python_steps"},
    "cnncourse.timing": {"best_time", "timing_table"},
}

# The grader's machinery, top-level today and bound for cnncourse.grading: what the probes import
# from it is the grader's business, not the students' interface.
GRADER_MODULES = {
    "authoring", "autograde", "check", "cli", "collect", "course", "feedback", "grade", "grading",
    "jail", "notebooks", "release", "report", "sandbox", "scoring", "verify", "warmkernel",
}

Uses = dict[str, dict[str, set[str]]]  # module -> name -> where it is imported


def _dotted(node: ast.expr) -> list[str]:
    """`a.b.c` as ["a", "b", "c"]; [] for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


def cnncourse_uses(trees: list[ast.Module], where: str, uses: Uses) -> None:
    """Record every `from cnncourse.X import a`, `import cnncourse.X` and `cnncourse.X.a` in
    `trees` (the cells of one notebook, which share one namespace) under `uses`."""
    bound: dict[str, str] = {}  # local name -> the cnncourse module it stands for
    modules: set[str] = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "cnncourse" or node.module.startswith("cnncourse.")):
            names = uses.setdefault(node.module, {})
            for alias in node.names:
                if alias.name != "*":
                    names.setdefault(alias.name, set()).add(where)
                if node.module == "cnncourse" and importlib.util.find_spec(
                        f"cnncourse.{alias.name}") is not None:  # `from cnncourse import plot`
                    bound[alias.asname or alias.name] = f"cnncourse.{alias.name}"
                    modules.add(f"cnncourse.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "cnncourse" or alias.name.startswith("cnncourse."):
                    uses.setdefault(alias.name, {})
                    modules.add(alias.name)
                    bound[alias.asname or "cnncourse"] = alias.name if alias.asname else "cnncourse"
    for node in (node for tree in trees for node in ast.walk(tree)):
        parts = _dotted(node) if isinstance(node, ast.Attribute) else []
        if not parts or parts[0] not in bound:
            continue
        module, rest = bound[parts[0]], parts[1:]
        while rest and f"{module}.{rest[0]}" in modules:
            module, rest = f"{module}.{rest[0]}", rest[1:]
        if rest and module in modules:
            uses.setdefault(module, {}).setdefault(rest[0], set()).add(where)


def notebook_uses() -> Uses:
    uses: Uses = {}
    transform = TransformerManager().transform_cell  # %magics and !shell lines become Python
    for path in NOTEBOOKS:
        where = str(path.relative_to(ROOT))
        trees = []
        for k, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "code":
                continue
            try:
                trees.append(ast.parse(transform(cell.source)))
            except SyntaxError as error:
                raise AssertionError(f"{where}, code cell {k}: not Python ({error})") from error
        cnncourse_uses(trees, where, uses)
    return uses


def probe_uses() -> Uses:
    """What the probes import from the top-level student modules (not the grader's)."""
    uses: Uses = {}
    for path in PROBES:
        cnncourse_uses([ast.parse(path.read_text())], str(path.relative_to(ROOT)), uses)
    return {module: names for module, names in uses.items()
            if module.count(".") == 1 and module.split(".")[1] not in GRADER_MODULES}


def all_uses() -> Uses:
    merged: Uses = {}
    for uses in (notebook_uses(), probe_uses()):
        for module, names in uses.items():
            for name, places in names.items():
                merged.setdefault(module, {}).setdefault(name, set()).update(places)
            merged.setdefault(module, {})
    return merged


USES = all_uses()


def load(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"import {module} failed ({error}). Notebooks that students hold import it by "
                    f"this name: keep {module} importable, re-exporting from the new home if the "
                    "code moved.")


def has(module, name: str) -> bool:
    """`from module import name` works: an attribute, or a submodule of a package."""
    if hasattr(module, name):
        return True
    try:
        importlib.import_module(f"{module.__name__}.{name}")
    except ImportError:
        return False
    return True


def test_the_notebooks_are_read():
    """The globs find both copies of the notebooks and the probes; the notebooks use the toolbox."""
    assert any(p.parts[-3] == "solutions" for p in NOTEBOOKS), "no notebook under solutions/"
    assert any(p.parts[-3] == "notebooks" for p in NOTEBOOKS), "no notebook under notebooks/"
    assert sum(len(names) for names in USES.values()) > 0, "no `cnncourse` import found"
    assert PROBES, "no probe found: point PROBES in tests/test_student_api.py at their folder"


@pytest.mark.parametrize("module", sorted(USES))
def test_every_imported_name_exists(module):
    """Each name a notebook or probe imports from `module` is there."""
    loaded = load(module)
    missing = {name: places for name, places in USES[module].items() if not has(loaded, name)}
    assert not missing, "\n".join(
        f"{', '.join(sorted(places))} imports {module}.{name}, which does not exist"
        for name, places in sorted(missing.items()))


@pytest.mark.parametrize("module", sorted(PINNED))
def test_every_pinned_name_still_exists(module):
    """A pinned name stays importable from its module, even once no notebook of today uses it."""
    loaded = load(module)
    missing = sorted(name for name in PINNED[module] if not has(loaded, name))
    assert not missing, (
        f"{module} lost {missing}, pinned in tests/test_student_api.py: students hold notebooks "
        f"that import them. Keep each importable from {module} (re-export it if it moved); do "
        "not unpin it.")


def test_every_imported_name_is_pinned():
    """A name a notebook starts to import becomes a promise to students, so it is pinned."""
    unpinned = [f"  {module}: {name!r}  ({', '.join(sorted(places))})"
                for module, names in sorted(USES.items())
                for name, places in sorted(names.items())
                if name not in PINNED.get(module, set())]
    unpinned += [f"  {module}: (the module itself)" for module in sorted(USES)
                 if module not in PINNED]
    assert not unpinned, (
        "imported by notebooks or probes but not pinned:\n" + "\n".join(unpinned) + "\nAdd each "
        "name to PINNED in tests/test_student_api.py and to its module's __all__: once a notebook "
        "ships with it, students hold it for good.")


@pytest.mark.parametrize("module", sorted(PINNED))
def test_dunder_all_lists_the_pinned_names(module):
    """`__all__` states the module's public interface, pinned names included."""
    loaded = load(module)
    listed = getattr(loaded, "__all__", None)
    assert listed is not None, f"{module} has no __all__: list its public names, pinned ones first"
    missing = sorted(PINNED[module] - set(listed))
    assert not missing, f"{module}.__all__ lacks the pinned {missing}: add them"


@pytest.mark.parametrize("module", sorted(PINNED))
def test_dunder_all_is_the_public_interface(module):
    """`__all__` names only what exists, and every public function and class defined there."""
    loaded = load(module)
    listed = set(getattr(loaded, "__all__", ()))
    absent = sorted(name for name in listed if not hasattr(loaded, name))
    assert not absent, f"{module}.__all__ lists {absent}, which {module} does not define"
    public = {name for name, value in vars(loaded).items()
              if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
              and value.__module__ == module}
    unlisted = sorted(public - listed)
    assert not unlisted, (f"{module} defines {unlisted} but its __all__ does not list them: add "
                          "them, or start their names with _ if students are not meant to use them")
