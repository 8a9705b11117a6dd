"""The floor plan, checked as `make lint` and CI check it: layers, independent tasks, no cycles,
and modules of a readable size."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("entrypoints", "bench", "flows", "tasks", "imdb_rnn", "rnn_models")
# A module that passes about this many lines is probably doing two jobs.
MOST_LINES = 400


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree at ``root`` with the contracts of its pyproject.toml."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_its_contracts():
    result = lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken", "named"),
    [
        # The library reaching up to the flow, as imdb_rnn/cli.py did in release 0.3.0.
        ("imdb_rnn/errors.py", "import flows.compare", "Layers", "imdb_rnn.errors -> flows"),
        # Inside a function counts too: lazily is still upward.
        (
            "imdb_rnn/text.py",
            "def _borrow():\n    from tasks import prepare\n",
            "Layers",
            "imdb_rnn.text -> tasks.prepare",
        ),
        # The models importing the configs: the cycle config <-> registry of release 0.3.0.
        (
            "rnn_models/registry.py",
            "from imdb_rnn.config import TrainingConfig",
            "Layers",
            "rnn_models.registry -> imdb_rnn.config",
        ),
        # One task borrowing from another instead of from the library.
        (
            "tasks/evaluate.py",
            "from tasks.train import train_architecture",
            "Tasks are independent",
            "tasks.evaluate -> tasks.train",
        ),
        # A cycle inside the library: storage imports files, so files may not import storage.
        # (Either import of the pair may be named as the one to remove: each is one import.)
        (
            "imdb_rnn/files.py",
            "from imdb_rnn import storage",
            "No import cycles",
            (".storage -> .files", ".files -> .storage"),
        ),
    ],
)
def test_a_planted_wrong_import_breaks_the_build(tmp_path, module, planted, broken, named):
    for package in PACKAGES:
        shutil.copytree(
            PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{planted}\n")

    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    broken_lines = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(line.startswith(broken) for line in broken_lines), broken_lines
    alternatives = (named,) if isinstance(named, str) else named
    assert any(name in result.stdout for name in alternatives), result.stdout[-3000:]


def test_no_library_task_or_flow_module_is_over_about_400_lines():
    sources = [
        path
        for package in ("flows", "tasks", "imdb_rnn", "rnn_models", "entrypoints")
        for path in (PROJECT_ROOT / package).rglob("*.py")
    ]
    assert len(sources) > 40
    too_long = {
        str(path.relative_to(PROJECT_ROOT)): lines
        for path in sources
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES
    }
    assert not too_long


def test_the_flow_reads_as_the_runs_table_of_contents():
    # Every statement of the flow's body is a docstring, `name = step(...)`, `step(...)` or the
    # return of a named result: no loops, no conditions, no arithmetic, no building of dicts.
    import ast

    tree = ast.parse((PROJECT_ROOT / "flows" / "compare.py").read_text(encoding="utf-8"))
    flow = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "compare_architectures"
    )
    docstring, *body = flow.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    for statement in body:
        if isinstance(statement, ast.Return):
            assert isinstance(statement.value, ast.Name), ast.unparse(statement)
            continue
        assert isinstance(statement, ast.Assign | ast.Expr), ast.unparse(statement)
        assert isinstance(statement.value, ast.Call), ast.unparse(statement)
        # Arguments are parameters, earlier results and calls of them, never computed in place.
        for node in ast.walk(statement.value):
            assert isinstance(node, ast.Call | ast.Name | ast.Attribute | ast.keyword | ast.Load), (
                ast.unparse(statement)
            )
    assert len(body) >= 10  # one line per step
