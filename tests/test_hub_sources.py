"""Hub sources as the published model cards name them, read from a Hugging Face cache that the tests write (no Hub
is reachable here), and the Hub's refusals told apart."""
from __future__ import annotations

from pathlib import Path

import httpx
import huggingface_hub
import huggingface_hub.constants
import pytest
import torch
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError

from modrwkv import ModRWKV, SourceUnavailable, encoders
from modrwkv.sources import download_size, resolve_source
from tests.test_multimodal import PAPER_VISION, PROMPT, image_model, llm, official_tensors, picture  # noqa: F401

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub(monkeypatch, tmp_path) -> Path:
    """An offline Hugging Face cache in tmp_path."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def cached_repo(hub: Path, repo_id: str) -> Path:
    """The snapshot folder of `repo_id` in the cache, as huggingface_hub lays it out after a download."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    return snapshot


def test_the_model_cards_form_finds_the_pth_it_names(hub):
    snapshot = cached_repo(hub, "WorldRWKV/RWKV7-0.4B-siglip2")
    torch.save({}, snapshot / "rwkv-0.pth")
    assert resolve_source("WorldRWKV/RWKV7-0.4B-siglip2/rwkv-0") == snapshot / "rwkv-0.pth"


def test_a_bare_release_id_loads_the_releases_file_beside_other_checkpoints(hub, llm):  # noqa: F811
    model = image_model(llm, adapter=PAPER_VISION)
    snapshot = cached_repo(hub, "WorldRWKV/RWKV7-0.4B-siglip2")
    torch.save(official_tensors(model, "a"), snapshot / "rwkv-0.pth")
    torch.save({"step": 1000}, snapshot / "rwkv-1000.pth")  # a training snapshot beside the release
    fresh_encoder = encoders.build("siglip2", **model.encoders["image"].architecture())
    loaded = ModRWKV.from_pretrained("WorldRWKV/RWKV7-0.4B-siglip2", encoder=fresh_encoder)
    want, _ = model(PROMPT, model.embed("image", [picture()]))
    got, _ = loaded(PROMPT, loaded.embed("image", [picture()]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _refusal(error_type: type) -> Exception:
    request = httpx.Request("GET", "https://huggingface.co/api/models/WorldRWKV/x")
    return error_type("404 Client Error", response=httpx.Response(404, request=request))


@pytest.mark.parametrize(("error_type", "says"), [
    (RemoteEntryNotFoundError, "Hugging Face repo 'WorldRWKV/RWKV7-0.4B-siglip2' has no file 'rwkv-9'"),
    (RepositoryNotFoundError, "Hugging Face has no repo 'WorldRWKV/RWKV7-0.4B-siglip2'"),
])
def test_a_missing_file_or_repo_is_not_reported_as_an_unreachable_hub(monkeypatch, error_type, says):
    def refuse(*args, **kwargs):
        raise _refusal(error_type)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(SourceUnavailable, match=says) as raised:
        resolve_source("WorldRWKV/RWKV7-0.4B-siglip2/rwkv-9")
    assert "unreachable" not in str(raised.value)


@pytest.fixture
def no_network(monkeypatch, hub):
    """A machine whose DNS resolves nothing, huggingface_hub not told it is offline; any HTTP request fails the test."""
    import socket

    def unresolved(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def no_request(*args, **kwargs):
        raise AssertionError("an HTTP request was made without a network")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "getaddrinfo", unresolved)
    monkeypatch.setattr(httpx.Client, "send", no_request)
    return hub


def test_without_a_network_a_cached_release_loads_from_the_cache_at_once(no_network):
    snapshot = cached_repo(no_network, "WorldRWKV/RWKV7-0.4B-siglip2")
    torch.save({}, snapshot / "rwkv-0.pth")
    assert resolve_source("WorldRWKV/RWKV7-0.4B-siglip2") == snapshot / "rwkv-0.pth"


def test_without_a_network_an_uncached_release_is_refused_at_once(no_network):
    with pytest.raises(SourceUnavailable, match="the Hub is unreachable and it is not in the local cache"):
        resolve_source("WorldRWKV/RWKV7-0.4B-siglip2/rwkv-0")
    with pytest.raises(SourceUnavailable, match="cannot reach the Hub"):
        download_size("WorldRWKV/RWKV7-0.4B-siglip2")
