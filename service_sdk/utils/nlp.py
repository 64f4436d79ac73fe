"""Text helpers: tokenise, build a vocabulary, encode and pad sentences."""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Mapping, Sequence

import numpy as np

PAD = "<pad>"
UNKNOWN = "<unk>"
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Words and punctuation marks, in order."""
    return _TOKEN.findall(text.lower() if lower else text)


def build_vocab(sentences: Iterable[Sequence[str]], min_count: int = 1) -> dict[str, int]:
    """Token → id, with ``<pad>`` = 0 and ``<unk>`` = 1, then by frequency (ties alphabetical)."""
    counts = Counter(token for sentence in sentences for token in sentence)
    ranked = sorted((t for t, c in counts.items() if c >= min_count and t not in (PAD, UNKNOWN)),
                    key=lambda t: (-counts[t], t))
    return {token: index for index, token in enumerate([PAD, UNKNOWN, *ranked])}


def encode_sentences(sentences: Iterable[Sequence[str]], vocab: Mapping[str, int],
                     unknown: str = UNKNOWN) -> list[list[int]]:
    """Token lists → id lists; tokens missing from ``vocab`` map to ``unknown``'s id."""
    if unknown not in vocab:
        raise ValueError(f"the vocabulary has no {unknown!r} entry for unknown tokens")
    unknown_id = vocab[unknown]
    return [[vocab.get(token, unknown_id) for token in sentence] for sentence in sentences]


def pad_sequences(sequences: Sequence[Sequence[int]], length: int, pad_value: int = 0,
                  truncate: str = "post") -> np.ndarray:
    """A ``(len(sequences), length)`` int array: padded at the end, cut at ``truncate`` ("pre"/"post")."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if truncate not in ("pre", "post"):
        raise ValueError("truncate must be 'pre' or 'post'")
    out = np.full((len(sequences), length), pad_value, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        kept = list(sequence)[-length:] if truncate == "pre" else list(sequence)[:length]
        out[row, : len(kept)] = kept
    return out
