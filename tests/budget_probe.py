"""Imported into a notebook's kernel by tests/test_budget.py: before each graded cell runs, a
digest of every value the cell can read.

A graded cell's inputs are the globals it names, the globals that the notebook's own functions
and classes it names read in turn (their code, defaults and closures included, transitively),
and the random-number generators a cell draws from without naming them: torch's, NumPy's
legacy global one and Python's `random`. `watch(sources)` registers an IPython pre-run hook;
`digests()` returns what it saw as JSON text: {grade_id: {name: sha256}}.
"""

from __future__ import annotations

import ast
import hashlib
import json
import pickle
import random
import types

_SEEN: dict[str, dict[str, str]] = {}
_SKIP = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class _FirstUse(ast.NodeVisitor):
    """Walks a cell in the order Python evaluates it and keeps the names whose first use is a
    read: a name the cell binds before it reads it (``x = ...``, ``with ... as x``, ``for x``,
    ``def x``, ``import x``) is not an input."""

    def __init__(self):
        self.bound: set[str] = set()
        self.read: set[str] = set()

    def _store(self, name: str) -> None:
        if name not in self.read:
            self.bound.add(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.bound:
                self.read.add(node.id)
        else:
            self._store(node.id)

    def visit_Assign(self, node):
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node):
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            if node.target.id not in self.bound:
                self.read.add(node.target.id)
        else:
            self.visit(node.target)

    def visit_For(self, node):
        self.visit(node.iter)
        self.visit(node.target)
        for child in node.body + node.orelse:
            self.visit(child)

    def visit_With(self, node):
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        for child in node.body:
            self.visit(child)

    def visit_FunctionDef(self, node):
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        for deco in node.decorator_list:
            self.visit(deco)
        self._store(node.name)
        inner = _FirstUse()
        inner.bound = set(self.bound) | {a.arg for a in ast.walk(node.args)
                                         if isinstance(a, ast.arg)}
        for child in node.body:
            inner.visit(child)
        self.read |= inner.read - self.bound  # read when it runs, if not bound by then

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for base in node.bases:
            self.visit(base)
        for child in node.body:
            self.visit(child)
        self._store(node.name)

    def visit_Import(self, node):
        for alias in node.names:
            self._store((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node):
        for alias in node.names:
            self._store(alias.asname or alias.name)


def _names(code: str) -> set[str]:
    """The globals a cell reads before binding them (every name, where it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    walker = _FirstUse()
    for node in tree.body:
        walker.visit(node)
    return walker.read


def _code_names(code: types.CodeType) -> set[str]:
    out = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out |= _code_names(const)
    return out


def _ours(value) -> bool:
    return getattr(value, "__module__", None) == "__main__"


def _reads(value) -> set[str]:
    """Globals that a function or class of the notebook reads when it runs."""
    if isinstance(value, types.FunctionType) and _ours(value):
        return _code_names(value.__code__)
    if isinstance(value, type) and _ours(value):
        out = set()
        for attr in vars(value).values():
            fn = getattr(attr, "__func__", attr)
            if isinstance(fn, types.FunctionType):
                out |= _code_names(fn.__code__)
        return out
    return set()


def _digest(value, seen=None) -> str:
    import numpy as np
    import torch

    seen = set() if seen is None else seen
    h = hashlib.sha256()
    if id(value) in seen:
        return "cycle"
    if isinstance(value, (types.FunctionType, type)) and not _ours(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
    seen = seen | {id(value)}
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}{value.requires_grad}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes() if value.dtype != object else
                 repr(value.tolist()).encode())
    elif isinstance(value, torch.nn.Module):
        h.update(f"{type(value).__qualname__}{value.training}".encode())
        for k, v in value.state_dict().items():
            h.update(k.encode() + _digest(v, seen).encode())
    elif isinstance(value, torch.Generator):
        h.update(value.get_state().numpy().tobytes())
    elif isinstance(value, np.random.Generator):
        h.update(repr(value.bit_generator.state).encode())
    elif isinstance(value, (int, float, complex, str, bytes, bool, type(None))):
        h.update(repr(value).encode())
    elif isinstance(value, dict):
        for k, v in value.items():
            h.update(repr(k).encode() + _digest(v, seen).encode())
    elif isinstance(value, (list, tuple)):
        h.update(type(value).__name__.encode())
        for v in value:
            h.update(_digest(v, seen).encode())
    elif isinstance(value, (set, frozenset)):
        for d in sorted(_digest(v, seen) for v in value):
            h.update(d.encode())
    elif isinstance(value, types.CodeType):
        h.update(value.co_code + repr((value.co_names, value.co_varnames)).encode())
        for const in value.co_consts:
            h.update(_digest(const, seen).encode())
    elif isinstance(value, types.FunctionType):  # the notebook's own
        h.update(_digest(value.__code__, seen).encode())
        h.update(_digest(value.__defaults__, seen).encode())
        h.update(_digest(value.__kwdefaults__, seen).encode())
        cells = [c.cell_contents for c in (value.__closure__ or ())]
        h.update(_digest(cells, seen).encode())
    elif isinstance(value, type):  # the notebook's own class
        for name, attr in sorted(vars(value).items()):
            if name not in ("__dict__", "__weakref__", "__module__", "__doc__"):
                h.update(name.encode() + _digest(getattr(attr, "__func__", attr), seen).encode())
    else:
        try:
            h.update(pickle.dumps(value, protocol=4))
        except Exception:  # noqa: BLE001 - not picklable: its type and its attributes
            h.update(type(value).__qualname__.encode())
            if hasattr(value, "__dict__"):
                h.update(_digest(dict(vars(value)), seen).encode())
    return h.hexdigest()


def _inputs(code: str, ns: dict) -> dict[str, str]:
    import numpy as np
    import torch

    todo = [n for n in _names(code) if n in ns and n not in _SKIP and not n.startswith("_")]
    names: set[str] = set()
    while todo:
        name = todo.pop()
        if name in names:
            continue
        names.add(name)
        todo += [n for n in _reads(ns[name]) if n in ns and n not in _SKIP
                 and not n.startswith("_")]
    out = {name: _digest(ns[name]) for name in sorted(names)}
    out["<torch random state>"] = _digest(torch.get_rng_state())
    out["<numpy random state>"] = _digest(list(np.random.get_state()))
    out["<python random state>"] = hashlib.sha256(repr(random.getstate()).encode()).hexdigest()
    return out


def watch(sources: dict[str, str]) -> None:
    """Before a cell whose source is a key of `sources` (graded cells -> grade_id), record the
    digest of its inputs under that grade_id."""
    from IPython import get_ipython

    ip = get_ipython()

    def before(info):
        gid = sources.get(info.raw_cell)
        if gid is not None:
            _SEEN[gid] = _inputs(info.raw_cell, ip.user_ns)

    ip.events.register("pre_run_cell", before)


def digests() -> str:
    return json.dumps(_SEEN)
