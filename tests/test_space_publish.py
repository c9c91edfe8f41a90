"""Publishing as a Hugging Face Space (modrwkv.space): the file list, LFS, the Space README, the commit. No network."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from modrwkv import space

REPO = Path(__file__).resolve().parents[1]
needs_git = pytest.mark.skipif(shutil.which("git") is None or not space.git_available(REPO), reason="needs git")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def _write(root: Path, rel: str, text: str = "x\n") -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


README = "# Toy\n\nThe GitHub README.\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small git repository laid out like this one: committed sources, plus files in every excluded kind."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    root = tmp_path / "proj"
    for rel in ("app.py", "app/tab.py", "modrwkv/lib.py", "kernels/k.c", "assets/models/m/config.json",
                "tests/test_x.py", ".ci/run", "gone.py"):
        _write(root, rel)
    _write(root, "README.md", README)
    _write(root, "requirements.txt", "torch==2.13.0\ngradio[mcp]==6.31.0\n")
    _write(root, ".gitignore", "data/\n*.log\n.venv/\n__pycache__/\ntests/artifacts/\n")
    _git(root.parent, "init", "-q", str(root))
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (root / "gone.py").unlink()  # tracked, deleted from the work tree
    _write(root, "data/cache.bin")  # ignored
    _write(root, "run.log")  # ignored
    _write(root, ".venv/lib/site.py")
    _write(root, "modrwkv/__pycache__/lib.cpython-311.pyc")
    _write(root, "tests/artifacts/out.png")
    _write(root, "app/new_tab.py")  # untracked, not ignored: published
    return root


def _names(files: list[Path]) -> set[str]:
    return {p.as_posix() for p in files}


# ------------------------------------------------------------------------------------------------- file list


@needs_git
def test_repo_list_holds_the_app_its_sources_and_assets() -> None:
    names = _names(space.published_files(REPO))
    tracked = set(_git(REPO, "ls-files").splitlines())
    for prefix in ("app/", "modrwkv/", "kernels/", "assets/"):
        wanted = {n for n in tracked if n.startswith(prefix) and "__pycache__" not in n and (REPO / n).is_file()}
        assert wanted and wanted <= names, prefix
    assert {"app.py", "requirements.txt", "README.md", "assets/models/vision-easyvqa/model.safetensors"} <= names


@needs_git
def test_repo_list_leaves_out_tests_ci_venv_and_caches() -> None:
    names = _names(space.published_files(REPO))
    assert ".gitignore" not in names
    for name in names:
        parts = name.split("/")
        assert parts[0] not in ("tests", ".ci"), name
        assert not {".venv", "__pycache__", "node_modules", ".pytest_cache"} & set(parts), name


@needs_git
def test_untracked_file_published_ignored_and_excluded_ones_not(project: Path) -> None:
    assert _names(space.published_files(project)) == {
        "README.md", "app.py", "app/new_tab.py", "app/tab.py", "assets/models/m/config.json",
        "kernels/k.c", "modrwkv/lib.py", "requirements.txt",
    }


@needs_git
def test_without_git_the_walk_gives_the_same_list(project: Path) -> None:
    assert space.published_files(project, use_git=False) == space.published_files(project, use_git=True)


def test_walk_honours_gitignore_negation_and_nested_files(tmp_path: Path) -> None:
    root = tmp_path / "archive"  # no .git: a downloaded archive
    for rel in ("app.py", "requirements.txt", "a/keep.log", "a/drop.log", "a/sub/x.tmp", "b/x.tmp"):
        _write(root, rel)
    _write(root, ".gitignore", "*.log\n!keep.log\n")
    _write(root, "a/.gitignore", "/sub/\n")
    assert _names(space.published_files(root)) == {"app.py", "requirements.txt", "a/.gitignore", "a/keep.log",
                                                   "b/x.tmp"}


def test_not_the_project_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "requirements.txt")
    with pytest.raises(space.SpaceError, match="no app.py"):
        space.published_files(tmp_path)


# ------------------------------------------------------------------------------------------------------ LFS


@needs_git
def test_nothing_over_10_mib_goes_outside_lfs() -> None:
    big = [p.as_posix() for p in space.published_files(REPO) if (REPO / p).stat().st_size > 10 * 2**20]
    assert big, "the bundled model.safetensors are over 10 MiB: the check would be empty"
    attrs = _git(REPO, "check-attr", "filter", "--", *big)  # git's own reading of .gitattributes
    assert all(line.endswith(": filter: lfs") for line in attrs.splitlines()), attrs
    assert all(any(space.pattern_matches(p, name) for p in space.lfs_patterns(REPO)) for name in big)


# --------------------------------------------------------------------------------------------------- README


def _front(text: str) -> tuple[dict, str]:
    match = re.match(r"---\n(.*?\n)---\n", text, re.DOTALL)
    assert match, text[:200]
    return yaml.safe_load(match.group(1)), text[match.end():]


def test_space_readme_is_front_matter_then_the_readme_unchanged(project: Path) -> None:
    meta, body = _front(space.space_readme(project))
    assert (meta["sdk"], meta["sdk_version"], meta["app_file"], meta["python_version"]) == (
        "gradio", "6.31.0", "app.py", "3.11")
    assert body == README


def test_repo_space_readme_names_the_pinned_gradio() -> None:
    pinned = re.search(r"^gradio\[[^\]]*\]==(\S+)", (REPO / "requirements.txt").read_text(), re.MULTILINE)[1]
    meta, body = _front(space.space_readme(REPO))
    assert (meta["sdk"], meta["sdk_version"], meta["app_file"]) == ("gradio", pinned, "app.py")
    readme = (REPO / "README.md").read_text()
    # an existing front matter is replaced, not kept twice
    assert readme.endswith(body) and len(body) > len(readme) // 2


def test_existing_front_matter_is_merged_not_duplicated(project: Path) -> None:
    (project / "README.md").write_text("---\ntitle: Mine\nsdk: docker\nsdk_version: 1.0\n---\n" + README)
    meta, body = _front(space.space_readme(project))
    assert (meta["title"], meta["sdk"], meta["sdk_version"]) == ("Mine", "gradio", "6.31.0")
    assert body == README


# -------------------------------------------------------------------------------------------------- publish


class FakeApi:
    """Records HfApi calls; the Space already holds a stale file."""

    def __init__(self, remote: list[str]) -> None:
        self.remote, self.calls = remote, []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def list_repo_files(self, repo_id, **kw):
        self.calls.append(("list_repo_files", repo_id, kw))
        return list(self.remote)

    def create_commit(self, repo_id, operations, **kw):
        self.calls.append(("create_commit", repo_id, list(operations), kw))

    def request_space_hardware(self, repo_id, hardware, **kw):
        self.calls.append(("request_space_hardware", repo_id, hardware))


@needs_git
def test_publish_creates_a_gradio_space_and_commits_the_list_once(project: Path) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = FakeApi(["README.md", "app.py", "old_tab.py", "tests/test_x.py", ".gitattributes"])
    space.publish("me/toy", project, api=api)
    assert api.calls[0] == ("create_repo", "me/toy",
                            {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True, "private": False})
    commits = [c for c in api.calls if c[0] == "create_commit"]
    assert len(commits) == 1 and commits[0][3]["repo_type"] == "space"
    ops = commits[0][2]
    adds = {op.path_in_repo: op.path_or_fileobj for op in ops if isinstance(op, CommitOperationAdd)}
    assert set(adds) == _names(space.published_files(project))
    assert adds["README.md"] == space.space_readme(project).encode()
    assert adds["app.py"] == str(project / "app.py")
    deletes = {op.path_in_repo for op in ops if isinstance(op, CommitOperationDelete)}
    assert deletes == {"old_tab.py", "tests/test_x.py"}  # .gitattributes kept: the Hub's LFS rules


def test_publish_requests_hardware(project: Path) -> None:
    api = FakeApi([])
    space.publish("me/toy", project, api=api, hardware="cpu-upgrade")
    assert api.calls[-1] == ("request_space_hardware", "me/toy", "cpu-upgrade")


def test_dry_run_asks_the_hub_nothing(project: Path) -> None:
    api = FakeApi([])
    plan = space.publish("me/toy", project, api=api, dry_run=True)
    assert api.calls == [] and plan.deletions is None and plan.files


@pytest.mark.parametrize("bad", ["modrwkv", "me/toy/extra", "spaces/me/toy", "me/", "me/to..y", "-me/toy", "me toy/x"])
def test_bad_repo_id_is_refused_by_name(bad: str, project: Path) -> None:
    api = FakeApi([])
    with pytest.raises(space.SpaceError, match=re.escape(repr(bad))):
        space.publish(bad, project, api=api)
    assert api.calls == []


def test_missing_token_says_how_to_log_in(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(space.SpaceError, match="hf auth login"):
        space.publish("me/toy", project)


def test_cli_refuses_a_bad_repo_id_with_a_message(project: Path) -> None:
    with pytest.raises(SystemExit, match="'nope' is not a Space id of the form OWNER/NAME"):
        space.main(["publish", "nope", "--root", str(project)])


def test_cli_files_prints_the_list_and_a_total(project: Path) -> None:
    lines: list[str] = []
    assert space.main(["files", "--root", str(project)], out=lines.append) == 0
    assert re.search(r"^8 files, [\d,]+ bytes .*; 0 through large-file storage", lines[0].splitlines()[-1])
