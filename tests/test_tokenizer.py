"""RWKVTokenizer and StreamDecoder: golden ids, agreement with BlinkDL's TRIE_TOKENIZER, round trips, errors."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from modrwkv.tokenizer import RWKVTokenizer, StreamDecoder, VocabError

RWKV_VOCAB_SHA256 = "8324476023347dec2964625ccb2075c864d250a9c6d9a74f36daba628de8c008"  # rwkv 0.8.32's file


@pytest.fixture(scope="module")
def tok() -> RWKVTokenizer:
    return RWKVTokenizer()


@pytest.fixture(scope="module")
def reference(tok: RWKVTokenizer):
    from rwkv.rwkv_tokenizer import TRIE_TOKENIZER

    return TRIE_TOKENIZER(str(tok.vocab_file))


def random_text(rng: random.Random, n: int) -> str:
    """Random unicode mixing ASCII, controls, chat separators, whitespace runs, CJK, emoji and any non-surrogate."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.25:
            out.append(chr(rng.randrange(0x20, 0x7F)))
        elif r < 0.35:
            out.append(rng.choice(["\x00", "\x16", "\x17", "\t", "\n", "\r\n", "\x7f", "\x85", "\u00a0", "\u2028",
                                   "\ufeff", "\ufffd", "\u200d", " " * rng.randrange(1, 70)]))
        elif r < 0.55:
            out.append(chr(rng.randrange(0x4E00, 0xA000)))
        elif r < 0.65:
            out.append(chr(rng.randrange(0x1F300, 0x1FB00)))
        elif r < 0.75:
            out.append(chr(rng.randrange(0x80, 0x800)))
        elif r < 0.85:
            out.append(rng.choice([" the", " of", "ing", " tower", "中国", "の", "def ", "    return", "😀"]))
        else:
            c = rng.randrange(0, 0x110000)
            out.append(chr(c if not 0xD800 <= c < 0xE000 else c + 0x800))
    return "".join(out)


# ------------------------------------------------------------------ golden ids (from rwkv 0.8.32 TRIE_TOKENIZER)

def test_eiffel_sentence_gives_the_published_ids(tok):
    assert tok.encode("The Eiffel tower is in the city of") == [6699, 304, 25740, 109, 39990, 4600, 4596, 22590,
                                                                 30449, 4706]


def test_chat_separators_are_tokens_23_and_24(tok):
    ids = tok.encode("\x16User: hi\x17Assistant:")
    assert ids == [23, 24281, 59, 4571, 24, 5585, 41693, 59]
    assert ids[0] == 23 and ids[4] == 24


GOLDEN = {
    "北京是中国的首都，也是一座历史悠久的城市。":
        [10902, 10362, 13091, 10285, 11435, 14734, 18117, 17311, 19137, 10322, 13091, 10250, 12232, 10964, 11024,
         12466, 10301, 14734, 11517, 12154, 10080],
    "Emoji time 🎉🚀👩\u200d💻 done! 🫠🦩":
        [995, 2094, 106, 32251, 33, 3319, 143, 138, 3319, 155, 129, 3319, 146, 170, 9810, 3319, 147, 188, 30666, 34,
         33, 3319, 172, 161, 3319, 167, 170],
    "def f(x):\n\tif x:\n\t\treturn x  # tab\r\n    else:\n        return None\n":
        [7334, 337, 41, 121, 501, 260, 1942, 355, 59, 3324, 42178, 355, 267, 36, 22558, 36213, 25229, 59, 54807,
         42178, 29487, 11],
    "日本語のテキストと한국어 텍스트, Ünïcödé façade naïve — “quotes” …":
        [13053, 13205, 16592, 10138, 10199, 10177, 43480, 10133, 43875, 18830, 33, 238, 134, 142, 43717, 45, 4958,
         111, 2509, 100, 9350, 2503, 30831, 6914, 46644, 22898, 22903, 35478, 116, 9823, 22908],
    "   \n\n\n\t\t  spaces   ": [19249, 19238, 267, 42287, 3340],
    "𠀀𪚥ꙮ𝕏": [241, 161, 129, 129, 241, 171, 155, 166, 235, 154, 175, 3318, 150, 144],
}


@pytest.mark.parametrize("text", list(GOLDEN), ids=["chinese", "emoji", "code", "mixed-scripts", "whitespace",
                                                     "rare-chars"])
def test_golden_vectors(tok, text):
    assert tok.encode(text) == GOLDEN[text]
    assert tok.decode(GOLDEN[text]) == text


# ------------------------------------------------------------------ agreement with the reference

def test_ids_match_reference_trie_tokenizer_on_random_unicode(tok, reference):
    rng = random.Random(20230424)
    texts = [random_text(rng, rng.randrange(0, 80)) for _ in range(1500)]
    for text in texts:
        assert tok.encode(text) == reference.encode(text), repr(text)


def test_encode_batch_equals_encoding_one_by_one(tok):
    rng = random.Random(7)
    texts = [random_text(rng, rng.randrange(0, 40)) for _ in range(200)] + [""]
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]


def test_bytes_that_are_not_utf8_encode_like_the_reference(tok, reference):
    rng = random.Random(3)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        assert tok.encode_bytes(data) == reference.encodeBytes(data), data


def test_shipped_vocab_is_the_rwkv_package_file(tok):
    assert hashlib.sha256(tok.vocab_file.read_bytes()).hexdigest() == RWKV_VOCAB_SHA256
    assert tok.vocab_size == 65536 and tok.eos_id == 0
    assert tok.token_bytes(65529) == b" " * 128 and tok.token_bytes(1) == b"\x00"


# ------------------------------------------------------------------ round trips

def test_decode_inverts_encode_on_random_unicode(tok):
    rng = random.Random(11)
    for _ in range(500):
        text = random_text(rng, rng.randrange(0, 120))
        assert tok.decode(tok.encode(text)) == text


def test_every_byte_value_has_its_own_token(tok):
    for b in range(256):
        assert tok.token_bytes(tok.encode_bytes(bytes([b]))[0]) == bytes([b])


def test_arbitrary_bytes_round_trip_through_encode_bytes(tok):
    rng = random.Random(5)
    for _ in range(200):
        data = rng.randbytes(rng.randrange(0, 200))
        assert tok.decode_bytes(tok.encode_bytes(data)) == data


def test_end_of_text_id_decodes_to_nothing(tok):
    ids = tok.encode("Hello")
    assert tok.decode([0, *ids, 0]) == "Hello"
    assert tok.decode_bytes([0]) == b"" and tok.token_bytes(0) == b""


def test_invalid_utf8_decodes_to_replacement_character(tok):
    x, z, lead_f0 = tok.encode("x")[0], tok.encode("z")[0], tok.encode_bytes(b"\xf0")[0]
    assert tok.decode([x, lead_f0, z]) == "x\ufffdz"
    assert tok.decode([lead_f0]) == "\ufffd"


def test_lone_surrogates_follow_the_errors_argument(tok):
    with pytest.raises(UnicodeEncodeError):
        tok.encode("a\ud800b")
    ids = tok.encode("a\udcffb", errors="surrogateescape")
    assert tok.decode_bytes(ids) == b"a\xffb"
    assert tok.decode(tok.encode("a\ud800b", errors="replace")) == "a?b"


def test_a_megabyte_of_text_round_trips_through_the_compiled_encoder(tok):
    text = ("The quick brown fox jumps over the lazy dog. 中文的句子还有 emoji 🎉 and code:\n\tx = 1\n" * 20000)
    text = text.encode()[:1_000_000].decode("utf-8", "ignore")
    assert tok.backend == "pyrwkv_tokenizer"  # the pure-Python fallback is far too slow for 1 MB
    assert tok.decode(tok.encode(text)) == text


# ------------------------------------------------------------------ streaming decoder

SPLIT_TEXT = "Rare: 𠀀 and 🦩 then 𝕏ꙮ end"  # these characters tokenize to lone UTF-8 bytes


def test_stream_decoder_never_emits_a_broken_character(tok):
    ids = tok.encode(SPLIT_TEXT)
    assert any(tok.token_bytes(i).decode("utf-8", "replace") == "\ufffd" for i in ids)  # really split
    stream = StreamDecoder(tok)
    chunks = [stream.feed(i) for i in ids] + [stream.flush()]
    assert not any("\ufffd" in c for c in chunks)
    assert "".join(chunks) == SPLIT_TEXT


def test_stream_decoder_holds_back_an_incomplete_character_until_it_completes(tok):
    stream = StreamDecoder(tok)
    ids = tok.encode("🦩")
    assert len(ids) == 3
    assert stream.feed(ids[0]) == "" and stream.feed(ids[1]) == ""
    assert stream.pending == "🦩".encode()[:3]
    assert stream.feed(ids[2]) == "🦩"
    assert stream.pending == b"" and stream.flush() == ""


def test_stream_decoder_concatenation_equals_full_decode_even_for_invalid_bytes(tok):
    rng = random.Random(9)
    byte_ids = [tok.encode_bytes(bytes([b]))[0] for b in range(0x80, 0x100)]
    for _ in range(300):
        ids = [rng.choice(byte_ids) if rng.random() < 0.6 else rng.randrange(0, 65530) for _ in range(20)]
        stream = StreamDecoder(tok)
        assert "".join(stream.feed(i) for i in ids) + stream.flush() == tok.decode(ids)


def test_stream_decoder_flush_replaces_an_incomplete_tail(tok):
    stream = StreamDecoder(tok)
    ids = tok.encode("ok 𠀀")
    assert "".join(stream.feed(i) for i in ids[:-1]) == "ok "
    assert stream.flush() == "\ufffd"
    assert stream.feed(tok.encode("a")[0]) == "a"  # ready for a new stream


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("bad_id", [65536, 65530, -1, 10**9])
def test_out_of_range_id_raises_value_error_naming_it(tok, bad_id):
    for call in (lambda: tok.decode([6699, bad_id]), lambda: tok.token_bytes(bad_id),
                 lambda: StreamDecoder(tok).feed(bad_id)):
        with pytest.raises(ValueError, match=rf"token id {bad_id}\b"):
            call()


def write_vocab(path: Path, extra: list[str]) -> Path:
    lines = [f"{b + 1} {bytes([b])!r} 1" for b in range(256)] + extra
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_ids_a_model_may_write_beyond_the_vocabulary_are_listed(tok):
    unknown = tok.unknown_ids(65536)
    assert unknown == [65530, 65531, 65532, 65533, 65534, 65535]  # the World vocabulary ends at 65529
    for token in unknown:
        with pytest.raises(ValueError, match="not in the vocabulary"):
            tok.token_bytes(token)


def test_custom_vocab_file_is_used(tmp_path):
    custom = RWKVTokenizer(write_vocab(tmp_path / "v.txt", ["300 'hello' 5", "301 'hell' 4", "302 '世界' 6"]))
    assert custom.encode("hello hell世界") == [300, ord(" ") + 1, 301, 302]
    assert custom.decode([300, 302]) == "hello世界"


@pytest.mark.parametrize("line, why", [
    ("300 'hello' 4", "5 bytes long but the line says 4"),
    ("300 __import__('os').system('false') 35", "not a valid Python str/bytes literal"),
    ("300 'hello' five", "decimal integers"),
    ("300 (1, 2) 2", "must be a str or bytes literal"),
    ("1 'again' 5", "duplicate token id 1"),
    ("garbage", "expected '<id> <python literal> <byte length>'"),
])
def test_malformed_vocab_file_raises_a_clear_error(tmp_path, line, why):
    path = write_vocab(tmp_path / "bad.txt", ["299 'ok' 2", line])
    with pytest.raises(VocabError, match="line 258") as err:
        RWKVTokenizer(path)
    assert why in str(err.value) and isinstance(err.value, ValueError)


def test_missing_vocab_file_raises_a_clear_error(tmp_path):
    with pytest.raises(VocabError, match="not found"):
        RWKVTokenizer(tmp_path / "nope.txt")


def test_pure_python_backend_gives_the_same_ids(monkeypatch, tok):
    import modrwkv.tokenizer as module

    monkeypatch.setattr(module, "_pyrwkv", None)
    slow = RWKVTokenizer()
    assert slow.backend == "python" and tok.backend == "pyrwkv_tokenizer"
    rng = random.Random(13)
    texts = [random_text(rng, rng.randrange(0, 60)) for _ in range(200)] + list(GOLDEN)
    assert slow.encode_batch(texts) == tok.encode_batch(texts)
