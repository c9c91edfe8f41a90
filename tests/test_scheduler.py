"""The continuous-batching scheduler: conversations that share batched steps get what each gets alone."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from modrwkv import RWKV7, RWKVTokenizer
from modrwkv.generation.sampling import GenerationConfig
from modrwkv.generation.streaming import generate
from modrwkv.serving.scheduler import Scheduler, SchedulerClosed

GREEDY = GenerationConfig(temperature=0, presence_penalty=0, frequency_penalty=0, banned_tokens=(0,),
                          max_new_tokens=16)
PROMPTS = ["Hello!", "What is the weather like on Mars today, and will it rain tomorrow in the valleys?", "2+2?",
           "Write a short poem about the sea, the wind and the old lighthouse on the hill above the harbour."]


@pytest.fixture(scope="module")
def model(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights)


@pytest.fixture(scope="module")
def tok() -> RWKVTokenizer:
    return RWKVTokenizer()


@pytest.fixture(scope="module")
def endless(tok) -> GenerationConfig:
    """Answers that go on until cancelled, never writing an id the vocabulary lacks (the random model would)."""
    return GREEDY.with_(max_new_tokens=10_000, banned_tokens=(0, *tok.unknown_ids(65536)))


@pytest.fixture
def scheduler(model, tok):
    s = Scheduler(model, tok, max_batch=8, step_tokens=8)
    yield s
    s.close()


def alone(model, tok, prompt, config=GREEDY, state=None):
    gen = generate(model, tok, prompt if isinstance(prompt, list) else tok.encode(prompt), state, config)
    list(gen)
    return gen.result


def collect(streams) -> list[str]:
    """Read every stream in its own thread, as the app's sessions do."""
    texts = [""] * len(streams)

    def read(i):
        texts[i] = "".join(streams[i])

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(streams))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return texts


def assert_same_continuation(got, want):
    assert got.tokens == want.tokens and got.text == want.text and got.pending == want.pending
    assert got.stats.stop_reason == want.stats.stop_reason
    torch.testing.assert_close(got.state.wkv, want.state.wkv, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got.state.att_shift, want.state.att_shift, rtol=1e-4, atol=1e-4)


def test_prompts_of_mixed_lengths_served_together_match_each_alone(model, tok, scheduler):
    streams = [scheduler.submit(tok.encode(p), config=GREEDY) for p in PROMPTS]
    texts = collect(streams)
    for p, text, stream in zip(PROMPTS, texts, streams):
        want = alone(model, tok, p)
        assert text == want.text
        assert_same_continuation(stream.result, want)


def test_conversations_that_join_and_leave_mid_stream_match_each_alone(model, tok, scheduler):
    configs = [GREEDY.with_(max_new_tokens=n) for n in (24, 3, 9, 16)]
    first = scheduler.submit(tok.encode(PROMPTS[0]), config=configs[0])
    pieces = iter(first)
    started = next(pieces)  # the first conversation is decoding when the others arrive
    later = [scheduler.submit(tok.encode(p), config=c) for p, c in zip(PROMPTS[1:], configs[1:])]
    texts = collect(later)
    first_text = started + "".join(pieces)
    for p, c, text, stream in zip(PROMPTS, configs, [first_text, *texts], [first, *later]):
        want = alone(model, tok, p, c)
        assert text == want.text
        assert_same_continuation(stream.result, want)


def test_a_follow_up_continues_the_state_a_request_left(model, tok, scheduler):
    one = scheduler.submit(tok.encode(PROMPTS[2]), config=GREEDY)
    collect([one])
    follow_up = one.result.pending + tok.encode("\n\nUser: and 3+3?\n\nAssistant:")
    two = scheduler.submit(follow_up, one.result.state, GREEDY)
    collect([two])
    first = alone(model, tok, PROMPTS[2])
    assert_same_continuation(two.result, alone(model, tok, follow_up, state=first.state))


def test_each_request_keeps_its_own_sampling_settings_and_stop_strings(model, tok, scheduler):
    sampled = GenerationConfig(seed=7, max_new_tokens=12)
    stopped = GREEDY.with_(stop=(" ",))  # ends before the first space the model writes
    streams = [scheduler.submit(tok.encode(PROMPTS[1]), config=c) for c in (sampled, stopped, GREEDY)]
    collect(streams)
    for stream, config in zip(streams, (sampled, stopped, GREEDY)):
        assert_same_continuation(stream.result, alone(model, tok, PROMPTS[1], config))
    assert streams[1].result.stats.stop_reason == "stop" and " " not in streams[1].result.text


def test_prompt_embeddings_are_served_like_their_tokens(model, tok, scheduler):
    ids = tok.encode(PROMPTS[3])
    with torch.inference_mode():
        embeds = model.emb(torch.tensor(ids))
    stream = scheduler.submit(embeds, config=GREEDY)
    collect([stream])
    assert_same_continuation(stream.result, alone(model, tok, ids))


def test_a_cancelled_conversation_frees_its_place_for_the_next(model, tok, endless):
    scheduler = Scheduler(model, tok, max_batch=1)
    try:
        endless = scheduler.submit(tok.encode(PROMPTS[0]), config=endless)
        waiting = scheduler.submit(tok.encode(PROMPTS[2]), config=GREEDY)
        pieces = iter(endless)
        next(pieces), next(pieces)  # the second piece comes from a step after the one that admitted the first
        assert scheduler.load == (1, 1)
        pieces.close()  # the visitor stops the answer
        assert collect([waiting])[0] == alone(model, tok, PROMPTS[2]).text
    finally:
        scheduler.close()
    result = endless.result
    assert result.done and result.stats.stop_reason == "cancelled"
    # what was generated stays consistent: the state plus the pending token continue the transcript
    transcript = tok.encode(PROMPTS[0]) + result.tokens
    with torch.inference_mode():
        continued, _ = model(torch.tensor([result.pending]), result.state)
        from_scratch, _ = model(torch.tensor([transcript]))
    torch.testing.assert_close(continued[0, -1], from_scratch[0, -1], rtol=1e-4, atol=1e-4)


def test_a_background_request_waits_behind_later_foreground_ones_until_brought_forward(model, tok, endless):
    scheduler = Scheduler(model, tok, max_batch=1)

    def places_become(want, *streams) -> bool:  # the places the worker publishes after each step
        deadline = time.monotonic() + 10
        while [s.ahead for s in streams] != want and time.monotonic() < deadline:
            time.sleep(0.01)
        return [s.ahead for s in streams] == want

    try:
        busy = scheduler.submit(tok.encode(PROMPTS[0]), config=endless)
        read_ahead = scheduler.submit(tok.encode(PROMPTS[1]), config=GREEDY, background=True)
        newcomer = scheduler.submit(tok.encode(PROMPTS[2]), config=GREEDY)
        assert places_become([1, 0], read_ahead, newcomer)
        read_ahead.foreground()  # its reader got to it: it queues by its arrival again
        assert places_become([0, 1], read_ahead, newcomer)
        busy.cancel()
        texts = collect([read_ahead, newcomer, busy])
    finally:
        scheduler.close()
    assert texts[:2] == [alone(model, tok, PROMPTS[1]).text, alone(model, tok, PROMPTS[2]).text]
    assert read_ahead.result.stats.time_to_first_token < newcomer.result.stats.time_to_first_token


def test_a_reader_that_falls_behind_gets_the_text_so_far_in_one_piece(model, tok, scheduler):
    stream = scheduler.submit(tok.encode(PROMPTS[3]), config=GREEDY)
    deadline = time.monotonic() + 30
    while not stream.result.done and time.monotonic() < deadline:  # the reader is busy elsewhere meanwhile
        time.sleep(0.01)
    want = alone(model, tok, PROMPTS[3])
    assert len(want.tokens) > 1 and list(stream) == [want.text]


def test_a_reader_that_stops_after_a_joined_last_piece_is_let_go(tok, scheduler):
    stream = scheduler.submit(tok.encode(PROMPTS[3]), config=GREEDY)
    deadline = time.monotonic() + 30
    while not stream.result.done and time.monotonic() < deadline:
        time.sleep(0.01)
    pieces = iter(stream)
    next(pieces)  # everything, and the end seen behind it
    stopping = threading.Thread(target=pieces.close, daemon=True)  # the visitor leaves before the end is read
    stopping.start()
    stopping.join(10)
    assert not stopping.is_alive()


def test_a_request_cancelled_before_its_first_token_leaves_the_state_it_was_given(model, tok, endless):
    scheduler = Scheduler(model, tok, max_batch=1)
    try:
        busy = scheduler.submit(tok.encode(PROMPTS[0]), config=endless)
        given = alone(model, tok, PROMPTS[2]).state
        kept = given.clone()
        queued = scheduler.submit(tok.encode(PROMPTS[1]), given, GREEDY)
        queued.cancel()
        assert collect([queued]) == [""]
        busy.cancel()
        collect([busy])
    finally:
        scheduler.close()
    assert not queued.result.done
    torch.testing.assert_close(given.wkv, kept.wkv, rtol=0, atol=0)


def test_a_failed_step_fails_its_requests_and_the_scheduler_goes_on(model, tok, scheduler, monkeypatch):
    broken = threading.Event()
    forward = model.forward_embeds

    def fails_once(*args, **kwargs):
        if not broken.is_set():
            broken.set()
            raise RuntimeError("out of memory")
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward_embeds", fails_once)
    with pytest.raises(RuntimeError, match="out of memory"):
        list(scheduler.submit(tok.encode(PROMPTS[0]), config=GREEDY))
    assert collect([scheduler.submit(tok.encode(PROMPTS[2]), config=GREEDY)])[0] == alone(model, tok, PROMPTS[2]).text


def test_a_scheduler_limited_to_one_thread_steps_on_one(model, tok, monkeypatch):
    seen, forward = [], model.forward_embeds

    def counting(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward_embeds", counting)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the process's setting, which the worker's limit must not follow
    try:
        scheduler = Scheduler(model, tok, threads=1)
        collect([scheduler.submit(tok.encode(PROMPTS[2]), config=GREEDY)])
        scheduler.close()
        assert set(seen) == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("prompt, message", [([], "at least one prompt token"),
                                             (torch.zeros(3, 5), "embeddings must be")])
def test_a_malformed_request_is_refused_when_submitted(scheduler, prompt, message):
    with pytest.raises(ValueError, match=message):
        scheduler.submit(prompt)


def test_requests_still_open_when_the_scheduler_closes_are_told_so(model, tok, endless):
    scheduler = Scheduler(model, tok, max_batch=1)
    running = scheduler.submit(tok.encode(PROMPTS[0]), config=endless)
    queued = scheduler.submit(tok.encode(PROMPTS[1]), config=GREEDY)
    next(iter(running))
    scheduler.close()
    with pytest.raises(SchedulerClosed):
        list(queued)
    with pytest.raises(SchedulerClosed):
        scheduler.submit(tok.encode(PROMPTS[2]))
