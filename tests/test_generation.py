"""Streaming generation, sampling, and chat sessions that keep their RNN state between turns."""
from __future__ import annotations

import pytest
import torch

from modrwkv import RWKV7, RWKVTokenizer
from modrwkv.generation.chat_session import ChatSession
from modrwkv.generation.sampling import GenerationConfig, Sampler
from modrwkv.generation.streaming import _StopScanner, generate

GREEDY = GenerationConfig(temperature=0, presence_penalty=0, frequency_penalty=0, max_new_tokens=24)
CHAT_GREEDY = GREEDY.with_(banned_tokens=(0,), max_new_tokens=12)


@pytest.fixture(scope="module")
def model(small_weights) -> RWKV7:
    return RWKV7.from_state_dict(small_weights)


@pytest.fixture(scope="module")
def tok() -> RWKVTokenizer:
    return RWKVTokenizer()


def test_a_seeded_run_is_reproducible(model, tok):
    cfg = GenerationConfig(seed=123, max_new_tokens=20)
    a = generate(model, tok, "Once upon a time", config=cfg)
    b = generate(model, tok, "Once upon a time", config=cfg)
    assert "".join(a) == "".join(b)
    assert a.result.tokens == b.result.tokens and len(a.result.tokens) == 20


def test_greedy_decoding_follows_the_argmax_of_the_model(model, tok):
    prompt = tok.encode("The capital of France is")
    gen = generate(model, tok, prompt, config=GREEDY.with_(max_new_tokens=5))
    list(gen)
    ids = list(prompt)
    for _ in range(5):
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    assert gen.result.tokens == ids[len(prompt):]


def test_streamed_pieces_add_up_to_the_text(model, tok):
    gen = generate(model, tok, "Hello", config=GenerationConfig(seed=5, max_new_tokens=30))
    assert "".join(gen) == gen.text


def test_a_stop_string_ends_generation_before_it(model, tok):
    full = generate(model, tok, "Hello", config=GREEDY)
    text = "".join(full)
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    assert stop.strip(), "the random model should produce some visible text"
    cut = generate(model, tok, "Hello", config=GREEDY.with_(stop=(stop,)))
    streamed = "".join(cut)
    assert streamed == text[: text.index(stop)]
    assert cut.stats.stop_reason == "stop"


def test_a_stop_string_split_across_tokens_is_never_streamed():
    scanner = _StopScanner(["\n\nUser:"])
    out = [scanner.push(p) for p in ["Paris.", "\n", "\nUs", "er:"]]
    assert out == [("Paris.", False), ("", False), ("", False), ("", True)]


def test_text_that_only_looks_like_a_stop_string_is_released():
    scanner = _StopScanner(["\n\n"])
    assert scanner.push("a\n") == ("a", False)
    assert scanner.push("b") == ("\nb", False)


def test_max_new_tokens_bounds_the_answer(model, tok):
    gen = generate(model, tok, "Hi", config=GenerationConfig(seed=1, max_new_tokens=7, stop_tokens=()))
    list(gen)
    assert gen.stats.generated_tokens == 7 and gen.stats.stop_reason == "length"


def test_top_k_one_is_greedy():
    logits = torch.randn(3, 100)
    sampler = Sampler(GenerationConfig(top_k=1, presence_penalty=0, frequency_penalty=0, seed=0), 3, 100)
    assert torch.equal(sampler(logits), logits.argmax(-1))


def test_tiny_top_p_keeps_only_the_most_likely_token():
    logits = torch.randn(4, 1000)
    sampler = Sampler(GenerationConfig(top_p=1e-6, presence_penalty=0, frequency_penalty=0, seed=0), 4, 1000)
    assert torch.equal(sampler(logits), logits.argmax(-1))


def test_penalties_push_down_tokens_already_generated():
    logits = torch.zeros(1, 10)
    logits[0, 3] = 1.0
    sampler = Sampler(GenerationConfig(temperature=0, presence_penalty=0.6, frequency_penalty=0.6), 1, 10)
    sampler.observe(torch.tensor([3]))
    assert int(sampler(logits)) != 3


def test_banned_tokens_are_never_sampled():
    logits = torch.full((2, 10), -5.0)
    logits[:, 0] = 10.0
    sampler = Sampler(GenerationConfig(banned_tokens=(0,), seed=0), 2, 10)
    assert (sampler(logits) != 0).all()


@pytest.mark.parametrize(
    "kwargs", [{"temperature": -1}, {"top_p": 0}, {"top_k": -2}, {"max_new_tokens": 0}, {"stop": ("",)}]
)
def test_invalid_generation_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        GenerationConfig(**kwargs)


def test_a_follow_up_turn_processes_only_its_new_tokens(model, tok):
    chat = ChatSession(model, tok, config=CHAT_GREEDY)
    list(chat.send("What is in this picture?"))
    assert chat.last_stats.prompt_tokens == len(tok.encode("User: What is in this picture?\n\nAssistant:"))
    carried_over = len(chat.pending)  # the last answer token (and a turn end), not yet fed
    follow_up = "And what colour is it?"
    list(chat.send(follow_up))
    assert chat.last_stats.prompt_tokens == carried_over + len(tok.encode(f"User: {follow_up}\n\nAssistant:"))


def test_reusing_the_chat_state_gives_the_logits_of_rerunning_the_transcript(model, tok):
    chat = ChatSession(model, tok, config=CHAT_GREEDY, system="You are a helpful assistant.")
    for message in ("Hi there!", "Tell me about RNNs.\n\nBriefly."):
        list(chat.send(message))
    nxt = chat.prompt_tokens("Thanks.")
    continued, _ = model(torch.tensor([nxt]), chat.state)
    from_scratch, _ = model(torch.tensor([chat.tokens + nxt[len(chat.pending):]]))
    torch.testing.assert_close(continued[0], from_scratch[0, -len(nxt):], rtol=1e-5, atol=1e-4)


def test_stopping_an_answer_early_keeps_the_conversation_consistent(model, tok):
    chat = ChatSession(model, tok, config=CHAT_GREEDY.with_(max_new_tokens=50, stop=()))
    stream = chat.send("Write a long story.")
    for _, _ in zip(range(3), stream):
        pass
    stream.close()
    assert chat.last_stats.stop_reason == "cancelled" and len(chat.history) == 1
    nxt = chat.prompt_tokens("Go on.")
    continued, _ = model(torch.tensor([nxt]), chat.state)
    from_scratch, _ = model(torch.tensor([chat.tokens + nxt[len(chat.pending):]]))
    torch.testing.assert_close(continued[0, -1], from_scratch[0, -1], rtol=1e-5, atol=1e-4)


def test_several_conversations_answered_in_one_batch_match_each_alone(model, tok):
    messages = ["Hello!", "What is the weather like on Mars today?", "2+2?"]
    alone = []
    for m in messages:
        chat = ChatSession(model, tok, config=CHAT_GREEDY)
        alone.append("".join(chat.send(m)))
    sessions = [ChatSession(model, tok, config=CHAT_GREEDY) for _ in messages]
    streamed = [""] * 3
    for deltas in ChatSession.send_batch(sessions, messages):
        streamed = [s + d for s, d in zip(streamed, deltas)]
    assert streamed == alone
    assert [s.history[0][0] for s in sessions] == messages


def test_an_empty_message_is_refused(model, tok):
    with pytest.raises(ValueError, match="empty message"):
        ChatSession(model, tok).prompt_tokens("   \n ")


def test_reset_forgets_the_conversation(model, tok):
    chat = ChatSession(model, tok, config=CHAT_GREEDY)
    list(chat.send("Hi"))
    chat.reset()
    assert chat.state is None and chat.tokens == [] and chat.history == []


def test_a_batch_prefilled_in_chunks_gives_each_prompts_own_logits_and_state(model, monkeypatch):
    from modrwkv.generation import streaming as generation

    monkeypatch.setattr(generation, "CPU_CHUNK_POSITIONS", 9)  # three prompts: chunks of 3 positions
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, model.config.vocab_size, (n,), generator=g).tolist() for n in (11, 4, 7)]
    logits, state = generation.prefill(model, prompts)
    for i, prompt in enumerate(prompts):
        alone, alone_state = model(torch.tensor([prompt]), model.new_state(1))
        torch.testing.assert_close(logits[i], alone[0, -1], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(state.wkv[:, i], alone_state.wkv[:, 0], rtol=1e-4, atol=1e-4)


def test_a_long_prompt_pauses_between_its_chunks_and_gives_the_same_result(model, monkeypatch):
    from modrwkv.generation import streaming as generation

    monkeypatch.setattr(generation, "CPU_CHUNK_POSITIONS", 4)
    prompt = list(range(100, 111))  # 11 positions: chunks of 4, 4 and 3
    steps = generation.prefill_steps(model, [prompt])
    assert [next(steps), next(steps)] == [4, 8]  # a pause before each chunk but the first
    with pytest.raises(StopIteration) as done:
        next(steps)
    logits, state = done.value.value
    want, want_state = model(torch.tensor([prompt]), model.new_state(1))
    torch.testing.assert_close(logits[0], want[0, -1], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(state.wkv, want_state.wkv, rtol=1e-4, atol=1e-4)


def test_a_chat_stopped_while_reading_a_long_prompt_is_left_as_it_was(model, tok, monkeypatch):
    from modrwkv.generation import streaming as generation

    monkeypatch.setattr(generation, "CPU_CHUNK_POSITIONS", 8)
    chat = ChatSession(model, tok, config=CHAT_GREEDY)
    list(chat.send("Hi"))
    before = (chat.state.wkv.clone(), list(chat.pending), list(chat.tokens), list(chat.history))
    stream = chat.send("Summarise this: " + "the quick brown fox jumps over the lazy dog " * 10)
    assert next(stream) == ""  # still reading the prompt: nothing generated yet
    stream.close()
    assert chat.last_stats.generated_tokens == 0
    assert (chat.pending, chat.tokens, chat.history) == before[1:]
    torch.testing.assert_close(chat.state.wkv, before[0], rtol=0, atol=0)
