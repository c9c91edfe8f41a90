"""RWKV World tokenizer (greedy longest byte match) and a streaming, UTF-8-safe decoder.

Token ids 1..65529 come from the vocab file, id 0 is end-of-text (it decodes to nothing), and the
embedding table has ``vocab_size = 65536`` rows.  The golden implementation is
``rwkv.rwkv_tokenizer.TRIE_TOKENIZER`` from BlinkDL's ``rwkv`` package; this module gives the same ids.
"""
from __future__ import annotations

import ast
import codecs
import operator
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

try:
    import pyrwkv_tokenizer as _pyrwkv
except ImportError:  # pragma: no cover - the pure-Python encoder below is exact, only slower
    _pyrwkv = None

__all__ = ["RWKVTokenizer", "StreamDecoder", "VocabError", "DEFAULT_VOCAB"]

# Vocab: rwkv_vocab_v20230424.txt copied byte for byte from BlinkDL's `rwkv` pip package 0.8.32 (Apache-2.0).
DEFAULT_VOCAB = Path(__file__).resolve().parent / "vocab" / "rwkv_vocab_v20230424.txt"

VOCAB_SIZE = 65536
EOS_ID = 0

_ID_RE = re.compile(r"[0-9]+")


class VocabError(ValueError):
    """The vocab file is missing, malformed or inconsistent."""


def _parse_vocab(path: Path) -> dict[int, bytes]:
    """Parse ``id repr(token) byte_length`` lines exactly as the reference does, but with ast.literal_eval."""
    try:
        with open(path, encoding="utf-8") as f:  # text mode: CRLF line ends (as shipped) become "\n"
            lines = f.read().split("\n")
    except FileNotFoundError:
        raise VocabError(f"vocab file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise VocabError(f"vocab file {path} is not valid UTF-8 text: {e}") from None
    if lines and lines[-1] == "":
        lines.pop()  # the final newline

    def bad(lineno: int, line: str, why: str) -> VocabError:
        return VocabError(f"malformed vocab file {path}, line {lineno}: {why}: {line[:120]!r}")

    id2tok: dict[int, bytes] = {}
    tok2id: dict[bytes, int] = {}
    for lineno, line in enumerate(lines, 1):
        first, last = line.find(" "), line.rfind(" ")
        if first <= 0 or last == first:
            raise bad(lineno, line, "expected '<id> <python literal> <byte length>'")
        id_s, lit, len_s = line[:first], line[first + 1:last], line[last + 1:]
        if not _ID_RE.fullmatch(id_s) or not _ID_RE.fullmatch(len_s):
            raise bad(lineno, line, "the id and the byte length must be decimal integers")
        idx, length = int(id_s), int(len_s)
        try:
            tok = ast.literal_eval(lit.strip(" "))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise bad(lineno, line, "the token is not a valid Python str/bytes literal") from None
        if isinstance(tok, str):
            try:
                tok = tok.encode("utf-8")
            except UnicodeEncodeError:
                raise bad(lineno, line, "the token string is not encodable as UTF-8") from None
        elif not isinstance(tok, bytes):
            raise bad(lineno, line, f"the token must be a str or bytes literal, got {type(tok).__name__}")
        if not tok:
            raise bad(lineno, line, "empty token")
        if len(tok) != length:
            raise bad(lineno, line, f"the token is {len(tok)} bytes long but the line says {length}")
        if not 1 <= idx < VOCAB_SIZE:
            raise bad(lineno, line, f"token id {idx} is outside 1..{VOCAB_SIZE - 1} (0 is end-of-text)")
        if idx in id2tok:
            raise bad(lineno, line, f"duplicate token id {idx}")
        if tok in tok2id:
            raise bad(lineno, line, f"token {tok!r} already has id {tok2id[tok]}")
        id2tok[idx] = tok
        tok2id[tok] = idx
    if not id2tok:
        raise VocabError(f"vocab file {path} holds no tokens")
    missing = [b for b in range(256) if bytes([b]) not in tok2id]
    if missing:
        raise VocabError(f"vocab file {path} lacks single-byte tokens for bytes {missing[:8]}"
                         f"{'...' if len(missing) > 8 else ''}: not every text could be encoded")
    return id2tok


class RWKVTokenizer:
    """RWKV World tokenizer: UTF-8 bytes, greedy longest match against the vocab (ids identical to BlinkDL's)."""

    eos_id: int = EOS_ID
    vocab_size: int = VOCAB_SIZE

    def __init__(self, vocab_file: str | Path | None = None):
        self.vocab_file = Path(vocab_file) if vocab_file is not None else DEFAULT_VOCAB
        self._id2tok = _parse_vocab(self.vocab_file)
        self._tok2id = {t: i for i, t in self._id2tok.items()}
        self._decode_table: dict[int, bytes] = {EOS_ID: b"", **self._id2tok}
        self.max_token_len = max(map(len, self._tok2id))
        self._single = [self._tok2id[bytes([b])] for b in range(256)]
        self._cands: dict[bytes, tuple[int, ...]] | None = None  # built lazily for the pure-Python encoder
        # Encoder choice: pyrwkv-tokenizer (Rust) gave id-for-id the same output as TRIE_TOKENIZER on ~40 MB of
        # varied text and is far faster than Python; it only takes str, so non-UTF-8 bytes use the exact Python path.
        self._fast = None
        if _pyrwkv is not None:
            try:  # our parser validated the file already; a Rust panic is a BaseException
                fast = _pyrwkv.WorldTokenizer(str(self.vocab_file))
                if self._agrees_with(fast):
                    self._fast = fast
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:
                self._fast = None
        self.backend = "pyrwkv_tokenizer" if self._fast is not None else "python"

    def _agrees_with(self, fast) -> bool:
        """Sanity check that pyrwkv-tokenizer read the file as ast.literal_eval did (non-UTF-8 tokens excluded)."""
        theirs = {k: v for k, v in fast.get_vocab().items() if self._id2tok.get(v, b"").decode("utf-8", "replace") == k}
        ours = {}
        for i, t in self._id2tok.items():
            try:
                ours[t.decode("utf-8")] = i
            except UnicodeDecodeError:
                pass
        return theirs == ours and fast.encode("\x16User: hi\x17") == self._encode_bytes_py(b"\x16User: hi\x17")

    # ------------------------------------------------------------------ encoding
    def encode(self, text: str, errors: str = "strict") -> list[int]:
        """Token ids for ``text``. Lone surrogates raise UnicodeEncodeError unless ``errors`` says otherwise
        (any codec error handler: "replace" -> b"?", "surrogateescape"/"surrogatepass" -> their raw bytes)."""
        if not isinstance(text, str):
            raise TypeError(f"encode() takes str, not {type(text).__name__} (use encode_bytes for bytes)")
        if self._fast is not None:
            try:
                return self._fast.encode(text)
            except UnicodeEncodeError:
                if errors == "strict":
                    raise
        return self.encode_bytes(text.encode("utf-8", errors))

    def encode_batch(self, texts: Sequence[str], errors: str = "strict") -> list[list[int]]:
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"encode_batch() takes a list of str, found {type(t).__name__}")
        if self._fast is not None and errors == "strict":
            return self._fast.encode_batch(texts)
        return [self.encode(t, errors) for t in texts]

    def encode_bytes(self, data: bytes) -> list[int]:
        """Token ids for arbitrary bytes (need not be UTF-8); ``decode_bytes`` gives the bytes back exactly."""
        data = bytes(data)
        if self._fast is not None:
            try:
                return self._fast.encode(data.decode("utf-8"))
            except UnicodeDecodeError:
                pass
        return self._encode_bytes_py(data)

    def _encode_bytes_py(self, data: bytes) -> list[int]:
        """Exact pure-Python greedy longest match (slow path: non-UTF-8 input, or no pyrwkv-tokenizer)."""
        cands = self._cands
        if cands is None:
            by_prefix: dict[bytes, set[int]] = {}
            for t in self._tok2id:
                if len(t) >= 2:
                    by_prefix.setdefault(t[:2], set()).add(len(t))
            cands = self._cands = {p: tuple(sorted(ls, reverse=True)) for p, ls in by_prefix.items()}
        tok2id, single = self._tok2id, self._single
        out: list[int] = []
        i, n = 0, len(data)
        while i < n:
            tok = None
            for length in cands.get(data[i:i + 2], ()):
                if i + length <= n:
                    tok = tok2id.get(data[i:i + length])
                    if tok is not None:
                        i += length
                        break
            if tok is None:
                tok = single[data[i]]
                i += 1
            out.append(tok)
        return out

    # ------------------------------------------------------------------ decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Concatenated token bytes; id 0 (end-of-text) contributes nothing."""
        table = self._decode_table
        try:
            return b"".join(map(table.__getitem__, ids))
        except (KeyError, TypeError):
            pass
        return b"".join([self.token_bytes(i) for i in ids])  # slow path: int-likes, or name the bad id

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Text for ``ids``; invalid UTF-8 becomes U+FFFD (with the default ``errors="replace"``)."""
        return self.decode_bytes(ids).decode("utf-8", errors)

    def token_bytes(self, token_id: int) -> bytes:
        try:
            idx = operator.index(token_id)
        except TypeError:
            raise ValueError(f"token id {token_id!r} is not an integer") from None
        tok = self._decode_table.get(idx)
        if tok is None:
            raise ValueError(f"token id {idx} is not in the vocabulary (valid: 0 = end-of-text, "
                             f"or one of the {len(self._id2tok)} ids in {self.vocab_file.name})")
        return tok

    def stream_decoder(self) -> StreamDecoder:
        return StreamDecoder(self)

    def unknown_ids(self, vocab_size: int) -> list[int]:
        """The ids below `vocab_size` (a model's output width) that the vocabulary lacks: a model with random
        weights writes them, and a sampler told to ban them keeps its text decodable."""
        return [i for i in range(vocab_size) if i not in self._decode_table]

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"RWKVTokenizer(vocab_file={str(self.vocab_file)!r}, backend={self.backend!r})"


class StreamDecoder:
    """Feed token ids one at a time; get back only complete text, never half a UTF-8 character.

    A trailing incomplete multi-byte sequence is held back until its remaining bytes arrive; bytes that can
    never form a character become U+FFFD exactly as ``RWKVTokenizer.decode`` would render them, so the
    concatenation of all chunks plus ``flush()`` equals ``tokenizer.decode(all_ids)``.
    """

    def __init__(self, tokenizer: RWKVTokenizer):
        self.tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, token_id: int) -> str:
        """Text completed by this token ("" while a character is still incomplete)."""
        return self._decoder.decode(self.tokenizer.token_bytes(token_id))

    def feed_many(self, ids: Iterable[int]) -> str:
        return self._decoder.decode(self.tokenizer.decode_bytes(ids))

    @property
    def pending(self) -> bytes:
        """Bytes held back: the start of a character that is not complete yet."""
        return self._decoder.getstate()[0]

    def flush(self) -> str:
        """Whatever is held back (U+FFFD for an incomplete tail); the decoder is then ready for a new stream."""
        out = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        return out

    def reset(self) -> None:
        """Drop anything held back."""
        self._decoder.reset()
