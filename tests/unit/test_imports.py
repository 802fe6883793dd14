"""The import structure: no cycles in ``evotrans`` or ``fairseq_plugins`` (imports inside
functions count; ``if TYPE_CHECKING:`` imports do not), and the ``evotrans`` core never
imports torch or fairseq."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("evotrans", "fairseq_plugins")
# evotrans modules that may import torch/fairseq, and only inside the functions named
TORCH_ALLOWED = {
    "evotrans.forkserver": {"_serve", "_child"},  # the fork server process
    "evotrans.commands.average": {"run"},  # averaging checkpoints needs torch, when it runs
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imported(module: str, path: Path, node: ast.AST, modules: dict[str, Path]) -> list[str]:
    """Project modules an import statement names (``from pkg import mod`` names ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        assert isinstance(node, ast.ImportFrom)
        if node.level:
            package = module.split(".")
            if path.name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        targets = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
            for alias in node.names
        ]
    out = []
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module:
            out.append(target)
    return out


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or inside functions, except those under
    ``if TYPE_CHECKING:`` (annotations only: they never run)."""
    found = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    walk(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in _runtime_imports(ast.parse(path.read_text())):
            graph[module].update(_imported(module, path, node, modules))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def _heavy_imports(path: Path) -> list[tuple[str, int, str | None]]:
    """(module, line, enclosing function) of every torch/fairseq import in a file."""
    tree = ast.parse(path.read_text())
    found = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            if isinstance(child, ast.Import):
                heads = [alias.name.split(".")[0] for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and not child.level:
                heads = [(child.module or "").split(".")[0]]
            else:
                heads = []
            for head in heads:
                if head in ("torch", "fairseq", "fairseq_cli", "fairseq_plugins"):
                    found.append((head, child.lineno, name))
            walk(child, name)

    walk(tree, None)
    return found


def test_core_never_imports_torch_or_fairseq():
    offenders = []
    for module, path in _modules().items():
        if not module.startswith("evotrans"):
            continue
        allowed = TORCH_ALLOWED.get(module, set())
        for head, line, function in _heavy_imports(path):
            if function not in allowed:
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {head}")
    assert offenders == []


def test_importing_every_core_module_loads_no_torch():
    names = sorted(m for m in _modules() if m.startswith("evotrans") and m != "evotrans.__main__")
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = sorted(m for m in ('torch', 'fairseq', 'fairseq_plugins') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert proc.stdout.strip() == ""
