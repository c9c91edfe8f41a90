"""Task pipelines: image chat that keeps its state between turns, and windowed streaming transcription."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image, ImageDraw

from modrwkv import RWKV7, RWKVTokenizer, encoders
from modrwkv.encoders.media import MediaError
from modrwkv.multimodal import ModRWKV
from modrwkv.multimodal.official import IMAGE_PAD_ID, VISION_END_ID, VISION_START_ID
from modrwkv.pipelines.image_chat import VISION_DEFAULTS, ImageChat
from modrwkv.pipelines.transcription import ASR_DEFAULTS, Segment, Transcriber, to_srt
from modrwkv.rwkv7.config import RWKV7Config
from modrwkv.rwkv7.random_weights import random_state_dict
from modrwkv.serving.encoding import EncoderQueue
from modrwkv.serving.scheduler import Scheduler

SHORT = VISION_DEFAULTS.with_(temperature=0, max_new_tokens=6)


@pytest.fixture(scope="module")
def tok() -> RWKVTokenizer:
    return RWKVTokenizer()


@pytest.fixture(scope="module")
def llm() -> RWKV7:
    return RWKV7.from_state_dict(random_state_dict(RWKV7Config.shape(n_layer=2, n_embd=64, head_size=32), seed=9))


def picture() -> Image.Image:
    img = Image.new("RGB", (40, 40), "white")
    ImageDraw.Draw(img).rectangle((5, 5, 30, 20), fill="blue")
    return img


@pytest.fixture(scope="module", params=["prepend", "placeholder"])
def vision(request, llm) -> ModRWKV:
    torch.manual_seed(1)
    return ModRWKV.build(llm, [encoders.build("siglip2")], placement=request.param)


def test_a_follow_up_about_the_same_image_processes_only_the_new_turn(vision, tok):
    chat = ImageChat(vision, tok, config=SHORT)
    list(chat.send("What is in this picture?", images=[picture()]))
    image_tokens = vision.embed("image", [picture()]).shape[1]
    assert chat.last_stats.prompt_tokens >= image_tokens + len(tok.encode("What is in this picture?"))
    follow_up = chat.prompt_tokens("What colour is the box?")  # the pending token(s) and the new turn
    list(chat.send("What colour is the box?"))
    assert chat.last_stats.prompt_tokens == len(follow_up)


def test_continuing_the_image_chat_equals_rerunning_the_whole_transcript(vision, tok):
    chat = ImageChat(vision, tok, config=SHORT)
    list(chat.send("Describe the image.", images=[picture()]))
    list(chat.send("Anything else?"))
    nxt = chat.prompt_tokens("Thanks.")
    continued, _ = vision.llm(torch.tensor([nxt]), chat.state)
    image = vision.embed("image", [picture()])
    transcript = chat.tokens + nxt[len(chat.pending):]
    from_scratch, _ = vision.llm.forward_embeds(vision.fill(transcript, image))
    torch.testing.assert_close(continued[0], from_scratch[0, -len(nxt):], rtol=1e-5, atol=1e-4)


def test_a_conversation_rebuilt_from_its_text_continues_as_its_transcript_says(vision, tok):
    chat = ImageChat(vision, tok, config=SHORT)
    chat.feed("Describe the image.", "A blue box.", images=[picture()])
    chat.feed("Anything else?", "No.")
    assert chat.history == [("Describe the image.", "A blue box."), ("Anything else?", "No.")]
    nxt = chat.prompt_tokens("Thanks.")
    transcript = chat.tokens + nxt[len(chat.pending):]
    with torch.inference_mode():  # the state was made in inference mode
        continued, _ = vision.llm(torch.tensor([nxt]), chat.state)
        from_scratch, _ = vision.llm.forward_embeds(vision.fill(transcript, vision.embed("image", [picture()])))
    torch.testing.assert_close(continued[0], from_scratch[0, -len(nxt):], rtol=1e-5, atol=1e-4)
    assert tok.decode([t for t in chat.tokens if t < 65530]).endswith(" No.\x17")


def test_images_are_placed_as_each_release_expects(vision, tok):
    chat = ImageChat(vision, tok, config=SHORT)
    list(chat.send("Hi", images=[picture()]))
    n = vision.embed("image", [picture()]).shape[1]
    if vision.config.placement == "prepend":
        assert chat.tokens[:n] == [IMAGE_PAD_ID] * n and chat.tokens[n] == 23
    else:
        start = chat.tokens.index(VISION_START_ID)
        assert chat.tokens[:start] == tok.encode("\x16User:")
        assert chat.tokens[start + 1 : start + 1 + n] == [IMAGE_PAD_ID] * n
        assert chat.tokens[start + 1 + n] == VISION_END_ID


def test_an_unreadable_image_is_refused_with_its_name(vision, tok, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(MediaError, match="notes.png"):
        ImageChat(vision, tok).send("What is this?", images=[bad])


def test_image_chats_served_together_by_a_scheduler_and_encoder_queue_answer_as_each_alone(vision, tok):
    questions = [("What is in this picture?", "Is it blue?"), ("Describe the image.", "Anything else?")]
    alone = []
    for first, follow_up in questions:
        chat = ImageChat(vision, tok, config=SHORT)
        alone.append(["".join(chat.send(first, images=[picture()])), "".join(chat.send(follow_up))])
    scheduler, queue = Scheduler(vision.llm, tok), EncoderQueue(vision.encoders, vision.adapters)
    chats = [ImageChat(vision, tok, config=SHORT, scheduler=scheduler, encoder_queue=queue) for _ in questions]
    answers = [[], []]
    try:
        with ThreadPoolExecutor(2) as pool:  # two visitors at once
            for i, text in enumerate(pool.map(lambda c, q: "".join(c.send(q[0], images=[picture()])), chats,
                                              questions)):
                answers[i].append(text)
            follow_ups = [len(chat.prompt_tokens(q[1])) for chat, q in zip(chats, questions)]
            for i, text in enumerate(pool.map(lambda c, q: "".join(c.send(q[1])), chats, questions)):
                answers[i].append(text)
    finally:
        scheduler.close()
        queue.close()
    assert answers == alone
    assert [chat.last_stats.prompt_tokens for chat in chats] == follow_ups  # only the new turn was processed


def test_a_model_without_an_image_encoder_is_refused(llm, tok):
    audio_only = ModRWKV.build(llm, [encoders.build("wavlm")])
    with pytest.raises(ValueError, match="not images"):
        ImageChat(audio_only, tok)


@pytest.fixture(scope="module")
def speech(llm) -> ModRWKV:
    torch.manual_seed(2)
    return ModRWKV.build(llm, [encoders.build("wavlm")])


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_a_long_recording_is_cut_into_windows_and_stitched(speech, tok):
    asr = Transcriber(speech, tok, config=ASR_DEFAULTS.with_(max_new_tokens=3), window_seconds=2.0)
    streamed = "".join(asr.stream(tone(5.0)))
    times = [(s.start, s.end) for s in asr.segments]
    assert times[0][0] == 0.0 and times[-1][1] == 5.0 and all(0 < end - start <= 2.0 for start, end in times)
    assert all(a[1] == b[0] for a, b in zip(times, times[1:]))  # continuous sound: no gap, no overlap
    assert streamed.strip() == " ".join(s.text for s in asr.segments if s.text)


def test_a_scheduler_and_encoder_queue_transcribe_each_window_as_the_transcriber_alone(speech, tok):
    config = ASR_DEFAULTS.with_(max_new_tokens=3)
    alone = Transcriber(speech, tok, config=config, window_seconds=2.0).transcribe(tone(5.0))
    scheduler, queue = Scheduler(speech.llm, tok), EncoderQueue(speech.encoders, speech.adapters)
    try:
        served = Transcriber(speech, tok, config=config, window_seconds=2.0, scheduler=scheduler,
                             encoder_queue=queue).transcribe(tone(5.0))
    finally:
        scheduler.close()
        queue.close()
    assert served == alone


def test_a_long_recordings_later_windows_queue_in_the_background_and_a_stop_withdraws_them(speech, tok, monkeypatch):
    from modrwkv.pipelines import transcription

    scheduler = Scheduler(speech.llm, tok)
    submitted = []
    submit = scheduler.submit
    monkeypatch.setattr(scheduler, "submit", lambda *a, **k: submitted.append(submit(*a, **k)) or submitted[-1])
    try:
        asr = Transcriber(speech, tok, config=ASR_DEFAULTS.with_(max_new_tokens=3), window_seconds=2.0,
                          scheduler=scheduler)
        stream = asr.stream(tone(10.0))  # five windows
        next(stream)
        assert len(submitted) == transcription.WINDOWS_AHEAD  # queued before the first is read
        assert [s._request.background for s in submitted] == [False, True, True]  # the later ones read ahead
        stream.close()  # Stop
    finally:
        scheduler.close()
    assert all(s.result.done or s._request.cancelled.is_set() for s in submitted)


def test_the_cues_leave_out_a_long_silence(speech, tok):
    recording = np.concatenate([tone(1.5), np.zeros(16000 * 6, dtype=np.float32), tone(1.0)])
    asr = Transcriber(speech, tok, config=ASR_DEFAULTS.with_(max_new_tokens=2), window_seconds=8.0)
    segments = asr.transcribe(recording)
    assert len(segments) == 2 and segments[0].end < 2.0 and segments[1].start > 7.0


def test_audio_at_another_rate_in_stereo_is_resampled(speech, tok):
    stereo = np.stack([tone(1.5)] * 2, axis=1)
    asr = Transcriber(speech, tok, config=ASR_DEFAULTS.with_(max_new_tokens=2), window_seconds=2.0)
    import soxr

    stereo_44k = soxr.resample(stereo, 16000, 44100)  # [T, 2]: soxr takes channels last
    segments = asr.transcribe(stereo_44k, sample_rate=44100)
    assert len(segments) == 1 and abs(segments[0].end - 1.5) < 0.01


def test_a_recording_of_noise_alone_is_refused_rather_than_transcribed(speech, tok):
    noise = (0.1 * np.random.default_rng(0).standard_normal(16000 * 20)).astype(np.float32)
    with pytest.raises(MediaError, match="no speech found"):
        list(Transcriber(speech, tok).stream(noise))


def test_silent_and_empty_recordings_are_refused(speech, tok):
    asr = Transcriber(speech, tok)
    with pytest.raises(MediaError, match="silent"):
        list(asr.stream(np.zeros(16000, dtype=np.float32)))
    with pytest.raises(MediaError):
        list(asr.stream(np.zeros(0, dtype=np.float32)))


def test_a_refused_recording_file_is_named_by_its_own_file_name(speech, tok, tmp_path):
    path = tmp_path / "voice_memo.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    with pytest.raises(MediaError, match="'voice_memo.wav' is silent") as refused:
        list(Transcriber(speech, tok).stream(str(path)))
    assert str(tmp_path) not in str(refused.value)


def test_srt_has_numbered_cues_with_timestamps():
    srt = to_srt([Segment(0.0, 2.5, "hello there"), Segment(2.5, 3661.25, "general kenobi")])
    assert srt == (
        "1\n00:00:00,000 --> 00:00:02,500\nhello there\n\n"
        "2\n00:00:02,500 --> 01:01:01,250\ngeneral kenobi\n\n"
    )
