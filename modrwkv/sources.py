"""Where weights come from: a local file or folder, or a Hugging Face repo id fetched with huggingface_hub.

Downloads are cached by huggingface_hub and work offline (`HF_HUB_OFFLINE=1`) once cached.
"""
from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlparse

WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class SourceUnavailable(OSError):
    """A Hugging Face repo that cannot be fetched now (offline, unknown, gated) and is not in the local cache."""


def resolve_source(src: str | Path) -> Path:
    """A local path to weights for `src`.

    `src` is a path (a `.pth` may be named without its suffix, as BlinkDL's tools do), a repo id
    `owner/name`, or `owner/name/file.pth` for one file of a repo holding several checkpoints.
    """
    local = _local_path(src)
    if local is not None:
        return local
    repo = _repo_parts(str(src))
    if repo is None:
        raise FileNotFoundError(
            f"checkpoint not found: '{src}' is neither an existing file or folder "
            "nor a Hugging Face repo id (owner/name)"
        )
    return _download(*repo)


def _local_path(src: str | Path) -> Path | None:
    path = Path(src).expanduser()
    if path.exists():
        return path
    if path.suffix != ".pth" and path.with_name(path.name + ".pth").exists():
        return path.with_name(path.name + ".pth")
    return None


def hub_repo(src: str | Path) -> tuple[str, str] | None:
    """(repo id, file in it or "") when `resolve_source` would fetch `src` from the Hub; None for a local path."""
    return None if _local_path(src) is not None else _repo_parts(str(src))


def _repo_parts(text: str) -> tuple[str, str] | None:
    parts = text.split("/")
    if text.startswith((".", "/", "~")) or "\\" in text or len(parts) < 2 or not _REPO_ID.match("/".join(parts[:2])):
        return None
    return "/".join(parts[:2]), "/".join(parts[2:])


def download_size(repo_id: str, filename: str = "") -> int:
    """Bytes that `resolve_source` fetches for this repo (or one file of it), read from the Hub's file list before
    anything is downloaded, so that a server can refuse a model too large for it."""
    from huggingface_hub import HfApi

    if hub_unreachable():
        raise SourceUnavailable(f"could not read the file list of Hugging Face repo '{repo_id}': this machine cannot "
                                "reach the Hub (its name does not resolve: no network)")
    try:
        files = {f.rfilename: f.size or 0 for f in HfApi().model_info(repo_id, files_metadata=True).siblings or []}
    except Exception as e:  # noqa: BLE001 - the client's transport errors (httpx) are not OSErrors
        raise SourceUnavailable(
            f"could not read the file list of Hugging Face repo '{repo_id}': the Hub is unreachable or the repo is "
            f"unknown ({type(e).__name__}: {e})"
        ) from e
    if filename:
        name = next((n for n in _file_names(filename) if n in files), None)
        if name is None:
            raise SourceUnavailable(f"Hugging Face repo '{repo_id}' has no file '{filename}'")
        return files[name]
    if any(n.endswith(".safetensors") for n in files):  # what _download's snapshot patterns take
        return sum(size for n, size in files.items() if n.endswith((".safetensors", ".json")))
    weights = [n for n in files if n.endswith(WEIGHT_SUFFIXES)]
    return files[weights[0]] if len(weights) == 1 else 0


def _download(repo_id: str, filename: str) -> Path:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HFValidationError

    cached_only = hub_unreachable()
    try:
        if filename:
            return _download_file(repo_id, filename, cached_only)
        # the weights, their configs and a chat template (chat_template.jinja beside tokenizer_config.json)
        folder = Path(snapshot_download(repo_id, allow_patterns=["*.safetensors", "*.json", "*.jinja"],
                                        local_files_only=cached_only))
        if any(folder.glob("*.safetensors")):
            return folder
        files = ([f.name for f in folder.iterdir()] if cached_only  # what earlier downloads left
                 else HfApi().list_repo_files(repo_id))
        pth = sorted(f for f in files if f.endswith(WEIGHT_SUFFIXES))
        if len(pth) == 1:
            return _download_file(repo_id, pth[0], cached_only)
        if not pth:
            raise SourceUnavailable(f"Hugging Face repo '{repo_id}' holds no .pth or .safetensors weights")
        raise SourceUnavailable(
            f"Hugging Face repo '{repo_id}' holds several checkpoints; name one as '{repo_id}/<file>': "
            + ", ".join(pth)
        )
    except SourceUnavailable:
        raise
    except (HFValidationError, OSError) as e:
        raise SourceUnavailable(_hub_failure(repo_id, filename, e)) from e


def _file_names(filename: str) -> tuple[str, ...]:
    """The names a file of a repo is looked for by, in order. A name without a weight suffix is first tried with
    `.pth`, as the official model cards name their checkpoints ('WorldRWKV/RWKV7-0.4B-siglip2/rwkv-0': WorldRWKV's
    infer/worldmodel.py appends '.pth'); only when that file does not exist is the name taken as it is."""
    return (filename,) if filename.endswith(WEIGHT_SUFFIXES) else (filename + ".pth", filename)


def _download_file(repo_id: str, filename: str, cached_only: bool = False) -> Path:
    """One file of a repo, by the first of `_file_names` it holds (`cached_only`: in the local cache)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    *first, last = _file_names(filename)
    for name in first:
        try:
            return Path(hf_hub_download(repo_id, name, local_files_only=cached_only))
        except EntryNotFoundError:
            continue
    return Path(hf_hub_download(repo_id, last, local_files_only=cached_only))


def hub_unreachable() -> bool:
    """True when the Hub's host name does not resolve (no network): huggingface_hub would retry each request for
    about half a minute, printing each failure, before it falls back to its cache; the cache is read at once
    instead."""
    from huggingface_hub import constants

    try:
        socket.getaddrinfo(urlparse(constants.ENDPOINT).hostname, 443)
    except OSError:
        return True
    return False


def _hub_failure(repo_id: str, filename: str, error: Exception) -> str:
    """What went wrong fetching from the Hub, in the words a user can act on."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    detail = f"({type(error).__name__}: {error})"
    if isinstance(error, GatedRepoError):
        return (f"Hugging Face repo '{repo_id}' is gated: accept its terms on huggingface.co and log in "
                f"(hf auth login) {detail}")
    if isinstance(error, RepositoryNotFoundError):
        return f"Hugging Face has no repo '{repo_id}' (or it is private): check the id {detail}"
    if isinstance(error, RemoteEntryNotFoundError):
        return f"Hugging Face repo '{repo_id}' has no file '{filename}': check the name on the repo's page {detail}"
    if isinstance(error, RevisionNotFoundError):
        return f"Hugging Face repo '{repo_id}' has no such revision {detail}"
    if isinstance(error, HfHubHTTPError) and not isinstance(error, LocalEntryNotFoundError):
        return f"the Hub refused '{repo_id}' {detail}"
    what = f"'{filename}' from " if filename else ""
    return (f"could not fetch {what}Hugging Face repo '{repo_id}': the Hub is unreachable and it is not in the local "
            f"cache. Download it where there is network (hf download {repo_id}) or pass a local path. {detail}")
