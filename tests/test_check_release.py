"""`python -m modrwkv.check_release`: a release fetched (here: from an offline Hugging Face cache the tests write),
loaded, its modality's example answered, and what loading assumed printed."""
from __future__ import annotations

import io

import torch

from modrwkv import ModRWKV, encoders
from modrwkv.check_release import main
from modrwkv.multimodal.official import HUBERT_LARGE_ID, SIGLIP2_ID
from tests.test_encoders import hub_layout_folder
from tests.test_hub_sources import cached_repo, hub  # noqa: F401
from tests.test_multimodal import PAPER_VISION, llm  # noqa: F401
from tests.test_official_releases import paper_era_checkpoint, speech_adapter
from tests.test_speech_encoders_upstream import hubert_ctc_folder


def checked(source: str, *options: str) -> tuple[int, str]:
    out = io.StringIO()
    # random weights: no answer ends on its own
    return main([source, "--max-new-tokens", "8", *options], out=out), out.getvalue()


def test_a_vision_release_answers_the_example_and_says_its_encoder_came_from_the_hub(hub, llm):  # noqa: F811
    snapshot = cached_repo(hub, SIGLIP2_ID)
    hub_layout_folder("siglip2", snapshot)
    own = ModRWKV.build(llm, [encoders.build("siglip2", snapshot)], PAPER_VISION)
    torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(hub, "WorldRWKV/RWKV7-0.4B-siglip2")
               / "rwkv-0.pth")
    code, printed = checked("WorldRWKV/RWKV7-0.4B-siglip2")
    assert code == 0
    assert "easy_vqa_circle.png, \"What is in this image?\" -> " in printed
    assert f"encoder siglip2 from {SIGLIP2_ID} (the file holds no encoder)" in printed
    assert "decoding greedy, no stop token fed before a follow-up" in printed


def test_a_speech_demo_transcribes_the_example_recording(hub, llm):  # noqa: F811
    hubert_ctc_folder(cached_repo(hub, HUBERT_LARGE_ID))
    own = ModRWKV.build(llm, [encoders.build("hubert")], speech_adapter(llm))
    demo = "WorldRWKV/RWKV7-0.4B-wavlmLarge-ENASR-demo"
    torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(hub, demo) / "rwkv-0.pth")
    code, printed = checked(demo)
    assert code == 0
    assert "speech_weather.wav -> " in printed and "encoder options normalize=True" in printed


def test_a_release_that_cannot_be_fetched_exits_1_with_the_reason(hub, capsys):  # noqa: F811
    assert checked("WorldRWKV/RWKV7-3B-siglip2")[0] == 1
    assert "cannot load WorldRWKV/RWKV7-3B-siglip2: could not fetch" in capsys.readouterr().err


def test_a_repo_outside_the_release_table_is_checked_with_the_encoder_named(hub, llm, tmp_path):  # noqa: F811
    hubert_ctc_folder(tmp_path / "hubert")
    own = ModRWKV.build(llm, [encoders.build("hubert", tmp_path / "hubert")], speech_adapter(llm))
    torch.save(paper_era_checkpoint(own, with_encoder=False), cached_repo(hub, "someone/rwkv7-asr") / "rwkv-0.pth")
    code, printed = checked("someone/rwkv7-asr/rwkv-0", "--encoder", "hubert",
                            "--encoder-source", str(tmp_path / "hubert"))
    assert code == 0
    assert "encoder hubert given by the caller" in printed and "placement prepend, inferred from the layout" in printed
