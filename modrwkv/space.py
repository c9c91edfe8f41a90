"""Publish this repository as a Hugging Face Space (Gradio SDK) through huggingface_hub's commit API.

    python -m modrwkv.space files [--root DIR]        # what would be uploaded: sizes, LFS or not, a total
    python -m modrwkv.space publish OWNER/NAME [--private] [--hardware cpu-basic] [--token T] [--dry-run]

Why the commit API and not `git push`: the Hub refuses plain git files over 10 MiB, the bundled
`assets/models/*/model.safetensors` are larger, and this repository's history holds a large wheel, so its
history cannot be pushed as is. `HfApi.create_commit` uploads the working tree's files (not the history) and
sends large or binary files to the Hub's large-file storage itself.

What is published: the files git tracks plus untracked files git does not ignore
(`git ls-files --cached --others --exclude-standard`), tracked files deleted from the work tree left out,
minus what a Space does not need (`tests/`, `.ci/`, `.github/`, `.gitignore`, virtual environments,
`__pycache__`, `node_modules`, tool caches). Without git (not installed, or the root is not the top of a git
work tree, e.g. a downloaded archive) the tree is walked with the same exclusions plus the `.gitignore` files'
patterns, matched by pathspec's GitIgnoreSpec (git's rules), less git's global and `info/exclude` files.

The published README.md gets the Space's YAML front matter (the repository's README is also the GitHub page):
`sdk: gradio`, `sdk_version` from requirements.txt's `gradio[...]==X` pin, `app_file: app.py`,
`python_version: "3.11"`. Front matter already at the top of README.md is merged (its other keys kept, those
four set) rather than duplicated; the README's text after it is sent unchanged.

This module lists files and talks to huggingface_hub only: it never imports gradio or `app/`.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pathspec import GitIgnoreSpec

DEFAULT_ROOT = Path(__file__).resolve().parents[1]
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub refuses plain git files above 10 MiB
PYTHON_VERSION = "3.11"
# Front matter used where README.md has none; a README's own keys win over these, except the REQUIRED ones.
DEFAULT_META: dict[str, Any] = {
    "title": "ModRWKV",
    "emoji": "🦅",
    "colorFrom": "blue",
    "colorTo": "red",
    "sdk": "gradio",
    "sdk_version": None,  # set from requirements.txt
    "python_version": PYTHON_VERSION,
    "app_file": "app.py",
    "pinned": False,
    "license": "apache-2.0",
    "short_description": "Multimodal chat, speech and forecasting on the RWKV-7 RNN",  # the Hub allows 60 chars
}

# Never published. Top-level folders/files a Space does not run; folder names skipped at any depth.
EXCLUDED_TOP = frozenset({"tests", ".ci", ".github", ".gitignore"})
EXCLUDED_DIRS = frozenset({
    ".git", ".venv", "__pycache__", "node_modules", ".pytest_cache", ".hypothesis", ".mypy_cache",
    ".ruff_cache", ".ipynb_checkpoints", ".tox", ".nox", ".eggs", ".cache",
})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
EXCLUDED_NAMES = frozenset({".DS_Store"})

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_GRADIO_PIN = re.compile(r"^\s*gradio\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#,]+)", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)


class SpaceError(Exception):
    """A publish that cannot go ahead, with the reason and the fix in its message."""


# ----------------------------------------------------------------------------------------------- the file list


def check_root(root: Path | str) -> Path:
    root = Path(root).resolve()
    if not (root / "app.py").is_file() or not (root / "requirements.txt").is_file():
        raise SpaceError(f"{root} is not the ModRWKV project (no app.py and requirements.txt there); pass --root")
    return root


def excluded(rel: PurePosixPath) -> bool:
    """Whether a path (relative to the root) is one a Space never gets, whatever git says of it."""
    parts = rel.parts
    return (
        parts[0] in EXCLUDED_TOP
        or any(p in EXCLUDED_DIRS for p in parts[:-1])
        or rel.name in EXCLUDED_NAMES
        or rel.suffix in EXCLUDED_SUFFIXES
    )


def _git_toplevel(root: Path) -> Path | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out).resolve() if out else None


def git_available(root: Path | str) -> bool:
    """git is installed and `root` is the top of its work tree (inside another repository, its rules would differ)."""
    return _git_toplevel(Path(root).resolve()) == Path(root).resolve()


def _git_files(root: Path) -> list[PurePosixPath]:
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout
    return [PurePosixPath(p) for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def pattern_matches(pattern: str, rel: str) -> bool:
    """git's matching of one .gitignore/.gitattributes pattern against a /-separated path (pathspec's wildmatch)."""
    return GitIgnoreSpec.from_lines([pattern]).match_file(rel)


def _walked_files(root: Path) -> list[PurePosixPath]:
    files: list[PurePosixPath] = []
    specs: list[tuple[str, GitIgnoreSpec]] = []  # (the folder holding a .gitignore, "" for the root; its rules)

    def ignored(rel: str, is_dir: bool) -> bool:
        verdict = False
        for base, spec in specs:  # deeper files come later: the last matching rule wins, as in git
            if base and not rel.startswith(base + "/"):
                continue
            local = rel[len(base) + 1:] if base else rel
            include = spec.check_file(local + "/" if is_dir else local).include
            verdict = verdict if include is None else include
        return verdict

    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        base = here.relative_to(root).as_posix()
        base = "" if base == "." else base
        if (here / ".gitignore").is_file():
            lines = (here / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
            specs.append((base, GitIgnoreSpec.from_lines(lines)))
        prefix = base + "/" if base else ""
        # an ignored folder is not entered, so nothing under it can be re-included (git's rule too)
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not ignored(prefix + d, True))
        files += [PurePosixPath(prefix + f) for f in filenames if not ignored(prefix + f, False)]
    return files


def published_files(root: Path | str = DEFAULT_ROOT, use_git: bool | None = None) -> list[Path]:
    """The files a Space gets, relative to `root`, sorted. `use_git=None` uses git where `git_available(root)`."""
    root = check_root(root)
    if use_git is None:
        use_git = git_available(root)
    candidates = _git_files(root) if use_git else _walked_files(root)
    keep = {p for p in candidates if not excluded(p) and (root / p).is_file()}  # is_file: drops deleted tracked files
    return [Path(p) for p in sorted(keep, key=str)]


# --------------------------------------------------------------------------------------- LFS and the README


def lfs_patterns(root: Path | str = DEFAULT_ROOT) -> list[str]:
    """The root .gitattributes patterns that carry `filter=lfs` (the ones the Hub and git-lfs honour)."""
    path = Path(root) / ".gitattributes"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def _is_binary(path: Path) -> bool:
    with open(path, "rb") as f:
        return b"\0" in f.read(8000)  # git's own test for binary content


def goes_to_lfs(root: Path, rel: Path, patterns: list[str]) -> bool:
    """Whether the Hub stores this file in its large-file storage: over 10 MiB, binary, or an LFS pattern's.
    (The Hub decides at upload; this is the same rule, for review.)"""
    path = root / rel
    return (path.stat().st_size > LFS_THRESHOLD or GitIgnoreSpec.from_lines(patterns).match_file(rel.as_posix())
            or _is_binary(path))


def gradio_version(root: Path | str = DEFAULT_ROOT) -> str:
    """The gradio version requirements.txt pins (`gradio[...]==X`): the Space's sdk_version."""
    match = _GRADIO_PIN.search((Path(root) / "requirements.txt").read_text(encoding="utf-8"))
    if match is None:
        raise SpaceError("requirements.txt pins no gradio version (a `gradio[...]==X` line): the Space's "
                         "sdk_version must match the gradio that requirements.txt installs")
    return match.group(1)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(the YAML front matter at the top of a README, or {}; the text after it)."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as e:
        raise SpaceError(f"README.md's front matter is not valid YAML: {e}") from e
    if not isinstance(meta, dict):
        raise SpaceError("README.md's front matter is not a YAML mapping")
    return meta, text[match.end():]


def space_meta(root: Path | str = DEFAULT_ROOT) -> dict[str, Any]:
    existing, _ = split_front_matter((Path(root) / "README.md").read_text(encoding="utf-8"))
    meta = {**DEFAULT_META, **existing}
    meta.update(sdk="gradio", sdk_version=gradio_version(root), app_file="app.py", python_version=PYTHON_VERSION)
    return meta


def space_readme(root: Path | str = DEFAULT_ROOT) -> str:
    """README.md as the Space gets it: the Space's front matter, then the README's text unchanged."""
    import yaml

    root = Path(root)
    _, body = split_front_matter((root / "README.md").read_text(encoding="utf-8"))
    front = yaml.safe_dump(space_meta(root), sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n{body}"


# ------------------------------------------------------------------------------------------------- publishing


def hardware_choices() -> list[str]:
    """The Space hardware names the installed huggingface_hub knows (`cpu-basic`, `zero-a10g`, `t4-small`...)."""
    from huggingface_hub import SpaceHardware

    return [h.value for h in SpaceHardware]


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str) or not _REPO_ID.fullmatch(repo_id):
        raise SpaceError(f"{repo_id!r} is not a Space id of the form OWNER/NAME (e.g. you/modrwkv)")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise SpaceError(f"{repo_id!r} is not a valid Space id: {e}") from e
    return repo_id


@dataclass
class PublishPlan:
    repo_id: str
    root: Path
    files: list[Path]
    readme: str
    private: bool = False
    hardware: str | None = None
    deletions: list[str] | None = None  # None: not known (a dry run asks the Hub nothing)
    commit: Any = None  # huggingface_hub.CommitInfo once made
    notes: list[str] = field(default_factory=list)


def _commit_message(root: Path) -> str:
    try:
        rev = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = ""
    return f"Publish ModRWKV ({rev})" if rev else "Publish ModRWKV"


def _hub_error(e: BaseException, repo_id: str) -> SpaceError:
    from huggingface_hub.errors import HfHubHTTPError, HTTPError, LocalTokenNotFoundError

    login = "run `hf auth login` (a token with write access), set HF_TOKEN, or pass --token"
    if isinstance(e, LocalTokenNotFoundError):
        return SpaceError(f"not logged in to the Hugging Face Hub: {login}")
    if isinstance(e, HfHubHTTPError):
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status == 401:
            return SpaceError(f"the Hub refused the token (401: missing, invalid or expired): {login}")
        if status == 403:
            return SpaceError(f"the Hub refused to write to {repo_id} (403): the token needs write access to "
                              f"its owner, or the hardware needs billing set up: {e}")
        return SpaceError(f"the Hub refused the publish of {repo_id} ({status}): {e}")
    if isinstance(e, HTTPError):
        return SpaceError(f"cannot reach the Hugging Face Hub: {e}")
    raise TypeError(e)


def publish(repo_id: str, root: Path | str = DEFAULT_ROOT, *, api: Any = None, token: str | None = None,
            private: bool = False, hardware: str | None = None, dry_run: bool = False,
            commit_message: str | None = None) -> PublishPlan:
    """Create the Space if needed and make one commit: every published file (README.md with the Space's front
    matter), and the deletion of every file on the Space no longer published (`.gitattributes` excepted: the
    Hub's LFS rules). `api` is an `HfApi` or anything with its create_repo/list_repo_files/create_commit/
    request_space_hardware; by default an `HfApi(token=token)`. A dry run asks the Hub nothing."""
    check_repo_id(repo_id)
    root = check_root(root)
    if hardware is not None and hardware not in hardware_choices():
        raise SpaceError(f"unknown Space hardware {hardware!r}; one of: {', '.join(hardware_choices())}")
    plan = PublishPlan(repo_id, root, published_files(root), space_readme(root), private, hardware)
    if dry_run:
        return plan

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import HTTPError, LocalTokenNotFoundError

    if api is None:
        import huggingface_hub
        from huggingface_hub import HfApi

        token = token or huggingface_hub.get_token()
        if not token:  # without one, huggingface_hub would first fail on the network with a 401
            raise _hub_error(LocalTokenNotFoundError("no token"), repo_id)
        api = HfApi(token=token)

    adds = [CommitOperationAdd(path_in_repo=rel.as_posix(),
                               path_or_fileobj=plan.readme.encode() if rel.as_posix() == "README.md"
                               else str(root / rel))
            for rel in plan.files]
    wanted = {rel.as_posix() for rel in plan.files}
    try:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
        remote = api.list_repo_files(repo_id, repo_type="space")
        plan.deletions = sorted(p for p in remote if p not in wanted and p != ".gitattributes")
        operations = adds + [CommitOperationDelete(path_in_repo=p) for p in plan.deletions]
        plan.commit = api.create_commit(repo_id, operations, commit_message=commit_message or _commit_message(root),
                                        repo_type="space")
        if hardware is not None:  # create_repo's space_hardware applies only to a new Space; this to both
            api.request_space_hardware(repo_id, hardware)
    except (LocalTokenNotFoundError, HTTPError) as e:
        raise _hub_error(e, repo_id) from e
    return plan


# ------------------------------------------------------------------------------------------------------- CLI


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def format_files(root: Path | str = DEFAULT_ROOT, files: list[Path] | None = None, readme: str | None = None) -> str:
    """The `files` listing: size (as uploaded), `lfs`/`git` (how the Hub stores it), path; then a total."""
    root = check_root(root)
    files = published_files(root) if files is None else files
    readme = space_readme(root) if readme is None else readme
    patterns = lfs_patterns(root)
    lines, total, n_lfs, big = [], 0, 0, []
    for rel in files:
        is_readme = rel.as_posix() == "README.md"
        size = len(readme.encode()) if is_readme else (root / rel).stat().st_size
        lfs = not is_readme and goes_to_lfs(root, rel, patterns)
        total += size
        n_lfs += lfs
        note = "  (Space front matter added)" if is_readme else ""
        if size > LFS_THRESHOLD:
            big.append(rel)
            note = "  (> 10 MiB)"
        lines.append(f"{size:>12,}  {'lfs' if lfs else 'git'}  {rel.as_posix()}{note}")
    lines.append(f"{len(files)} files, {total:,} bytes ({_mib(total)}); {n_lfs} through large-file storage "
                 f"(binary or > 10 MiB), {len(big)} over 10 MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m modrwkv.space", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    files = sub.add_parser("files", help="list the files a Space would get, with sizes and a total")
    files.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the project folder (default: this checkout)")
    pub = sub.add_parser("publish", help="create/update the Space OWNER/NAME in one commit")
    pub.add_argument("repo_id", metavar="OWNER/NAME")
    pub.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the project folder (default: this checkout)")
    pub.add_argument(
        "--private", action="store_true", help="create the Space private (an existing one keeps its visibility)"
    )
    pub.add_argument("--hardware", choices=hardware_choices(), help="request this hardware (paid tiers need billing)")
    pub.add_argument("--token", help="a Hub token with write access (default: HF_TOKEN or `hf auth login`'s)")
    pub.add_argument("--dry-run", action="store_true", help="print what would be done; ask the Hub nothing")
    args = parser.parse_args(argv)
    try:
        if args.command == "files":
            out(format_files(args.root))
            return 0
        plan = publish(args.repo_id, args.root, token=args.token, private=args.private, hardware=args.hardware,
                       dry_run=args.dry_run)
    except SpaceError as e:
        raise SystemExit(f"modrwkv.space: {e}") from None
    meta = space_meta(plan.root)
    url = f"https://huggingface.co/spaces/{plan.repo_id}"
    if args.dry_run:
        out(format_files(plan.root, plan.files, plan.readme))
        out(f"\nwould create {url} if missing ({'private' if plan.private else 'public'}, sdk gradio "
            f"{meta['sdk_version']}, app_file app.py, python {meta['python_version']})")
        out(f"would commit the {len(plan.files)} files above in one commit, README.md with its front matter, and "
            "delete the Space's files not listed here (.gitattributes kept)")
        if plan.hardware:
            out(f"would request hardware {plan.hardware}")
        return 0
    out(f"published {len(plan.files)} files to {url}" + (f" ({plan.commit.commit_url})" if plan.commit else ""))
    if plan.deletions:
        out("deleted from the Space: " + ", ".join(plan.deletions))
    if plan.hardware:
        out(f"requested hardware {plan.hardware}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
