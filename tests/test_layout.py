"""The layout's rules (docs/architecture.md): imports go one way, the model file is math only, every kernel and its
reference live in kernels/, and no text in the tree dates itself by a work period."""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).exists()]


def test_the_rwkv7_model_file_imports_no_cpu_fast_path():
    imported = _imports(ROOT / "modrwkv" / "rwkv7" / "model.py")
    assert not {name for name in imported if name.startswith("modrwkv.cpu") or name.startswith("kernels.rwkv7.cpu")}


def test_the_library_never_imports_the_ui():
    for path in (ROOT / "modrwkv").rglob("*.py"):
        # gradio_client, the HTTP client the app-load bench drives the app with, is not the UI
        bad = {name for name in _imports(path) if name in ("app", "gradio") or name.startswith(("app.", "gradio."))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_kernels_know_nothing_of_the_models():
    for path in (ROOT / "kernels").rglob("*.py"):
        bad = {name for name in _imports(path) if name.startswith("modrwkv")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_app_reaches_the_library_through_its_pipelines_not_the_benchmark():
    for path in [ROOT / "app.py", *(ROOT / "app").glob("*.py")]:
        bad = {name for name in _imports(path) if name.startswith("modrwkv.bench")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_every_c_source_is_in_kernels_and_includes_only_its_neighbours():
    sources = _tracked("*.c", "*.h")
    assert sources and all(path.is_relative_to(ROOT / "kernels") for path in sources)
    for path in sources:
        for include in re.findall(r'#\s*include\s+"([^"]+)"', path.read_text()):
            assert (path.parent / include).exists() and "/" not in include, f"{path.name} includes {include}"


def test_the_float64_reference_sits_beside_the_kernels_it_checks():
    from kernels.rwkv7.naive import wkv7_naive

    assert Path(wkv7_naive.__code__.co_filename).parent == ROOT / "kernels" / "rwkv7"


def test_the_library_keeps_few_modules_at_its_top_level():
    assert len(list((ROOT / "modrwkv").glob("*.py"))) <= 10


def test_no_text_dates_itself_by_a_work_period():
    dated = re.compile(r"\b(this|that|next|previous|earlier|later) session\b|\bsession \d+|\bstop \d+\b", re.I)
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _tracked("*.py", "*.md", "*.c", "*.h", "*.txt", "*.yaml", "*.toml", ".ci/*")
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if dated.search(line) and path.name != "test_layout.py"
    ]
    assert not found
