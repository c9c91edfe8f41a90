"""What from_pretrained accepts, and the errors it gives for everything else."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from modrwkv import RWKV7, CheckpointError, SourceUnavailable


def test_a_missing_path_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        RWKV7.from_pretrained(tmp_path / "nope.pth")


def test_a_pth_may_be_named_without_its_suffix_as_blinkdl_tools_do(blinkdl_pth):
    model = RWKV7.from_pretrained(str(blinkdl_pth.with_suffix("")))
    assert model.config.n_layer == 3 and model.config.vocab_size == 65536


def test_dimensions_are_read_from_the_tensors(blinkdl_pth):
    cfg = RWKV7.from_pretrained(blinkdl_pth).config
    assert (cfg.n_embd, cfg.n_head, cfg.head_size, cfg.dim_ffn) == (128, 2, 64, 512)
    assert (cfg.decay_rank, cfg.a_rank, cfg.v_rank, cfg.gate_rank) == (32, 32, 32, 64)


def test_a_truncated_pth_is_reported_as_truncated(tmp_path, blinkdl_pth):
    cut = tmp_path / "cut.pth"
    cut.write_bytes(blinkdl_pth.read_bytes()[: 200_000])
    with pytest.raises(CheckpointError, match="truncated"):
        RWKV7.from_pretrained(cut)


def test_a_truncated_safetensors_is_reported_as_truncated(tmp_path, small_weights):
    full = tmp_path / "full.safetensors"
    save_file(small_weights, str(full))
    cut = tmp_path / "model.safetensors"
    cut.write_bytes(full.read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="truncated"):
        RWKV7.from_pretrained(cut)


class _RunsCodeWhenLoaded:
    def __reduce__(self):
        return (print, ("this would have run while loading",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"emb.weight": torch.zeros(2, 2), "extra": _RunsCodeWhenLoaded()}, path)
    with pytest.raises(CheckpointError, match="could run code"):
        RWKV7.from_pretrained(path)


@pytest.mark.parametrize("content", [b"<!DOCTYPE html><title>404 Not Found</title>\n", bytes(range(256)) * 8],
                         ids=["an html page", "binary noise"])
def test_a_file_that_is_no_checkpoint_is_named_so(tmp_path, content):
    path = tmp_path / "rwkv-0.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="could not read .*rwkv-0.pth as a PyTorch checkpoint"):
        RWKV7.from_pretrained(path)


@pytest.mark.parametrize(
    "keys, found",
    [
        ({"blocks.0.att.time_decay": (8,), "blocks.0.att.time_first": (8,)}, "RWKV-4"),
        ({"blocks.0.att.time_decay": (8,), "blocks.0.att.time_faaaa": (2, 4)}, "RWKV-5"),
        ({"blocks.0.att.time_decay": (1, 1, 8), "blocks.0.att.time_maa_x": (1, 1, 8)}, "RWKV-6"),
        ({"transformer.h.0.attn.c_attn.weight": (8, 24), "transformer.wte.weight": (50257, 8)}, "GPT-2"),
        ({"model.layers.0.self_attn.q_proj.weight": (8, 8)}, "Llama/Qwen"),
        ({"conv1.weight": (8, 3, 3, 3)}, "other names"),
    ],
)
def test_another_architecture_is_named_in_the_error(tmp_path, keys, found):
    path = tmp_path / "other.pth"
    torch.save({k: torch.zeros(s) for k, s in keys.items()}, path)
    with pytest.raises(CheckpointError, match=f"expected an RWKV-7 .*found.*{found}"):
        RWKV7.from_pretrained(path)


def test_a_checkpoint_missing_a_layer_tensor_lists_what_is_missing(tmp_path, small_weights):
    partial = {k: v for k, v in small_weights.items() if k != "blocks.2.ffn.value.weight"}
    path = tmp_path / "partial.pth"
    torch.save(partial, path)
    with pytest.raises(CheckpointError, match="blocks.2.ffn.value.weight"):
        RWKV7.from_pretrained(path)


def test_a_folder_with_several_pth_files_asks_for_one(tmp_path):
    for name in ("a.pth", "b.pth"):
        torch.save({"x": torch.zeros(1)}, tmp_path / name)
    with pytest.raises(CheckpointError, match="several checkpoints"):
        RWKV7.from_pretrained(tmp_path)


def test_an_unreachable_hub_repo_is_named_in_the_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(SourceUnavailable, match="'fla-hub/rwkv7-0.1B-world'"):
        RWKV7.from_pretrained("fla-hub/rwkv7-0.1B-world")


def test_a_cached_hub_repo_loads_offline(monkeypatch, tmp_path, small_weights):
    """A repo already in the Hugging Face cache (its on-disk layout written here) loads with the Hub offline."""
    repo = tmp_path / "hub" / "models--fla-hub--rwkv7-test"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    from tests.fla_layout import save_fla_folder

    save_fla_folder(small_weights, snap)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    model = RWKV7.from_pretrained("fla-hub/rwkv7-test")
    assert model.config.n_layer == 3
