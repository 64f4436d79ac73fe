"""The ndarray and nlp helpers handlers use."""
from __future__ import annotations

import numpy as np
import pytest

from service_sdk.utils import ndarray, nlp


def test_softmax_is_stable_and_normalised():
    scores = np.array([[1000.0, 1001.0, 1002.0], [0.0, 0.0, 0.0]])
    probabilities = ndarray.softmax(scores, axis=1)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities[1], 1 / 3)
    assert probabilities[0].argmax() == 2


def test_top_k_orders_best_first_and_caps_k():
    assert ndarray.top_k(np.array([0.1, 0.7, 0.2]), 2) == [(1, pytest.approx(0.7)), (2, pytest.approx(0.2))]
    assert len(ndarray.top_k(np.array([0.5, 0.5]), 10)) == 2


def test_batches_cover_everything_and_pad_only_the_short_one():
    assert ndarray.batch_ranges(7, 3) == [(0, 3), (3, 6), (6, 7)]
    part = ndarray.take(np.arange(14).reshape(7, 2), 6, 7, axis=0)
    padded = ndarray.pad_to(part, 3, axis=0)
    assert padded.shape == (3, 2) and padded[0].tolist() == [12, 13] and not padded[1:].any()
    with pytest.raises(ValueError):
        ndarray.batch_ranges(3, 0)


def test_tokenize_vocab_encode_pad():
    sentences = [nlp.tokenize("The cat sat."), nlp.tokenize("the dog sat, the end")]
    assert sentences[0] == ["the", "cat", "sat", "."]
    vocab = nlp.build_vocab(sentences)
    assert vocab[nlp.PAD] == 0 and vocab[nlp.UNKNOWN] == 1 and vocab["the"] == 2
    encoded = nlp.encode_sentences([["the", "zebra"]], vocab)
    assert encoded == [[vocab["the"], vocab[nlp.UNKNOWN]]]
    padded = nlp.pad_sequences([[5, 6, 7], [8]], 2)
    assert padded.tolist() == [[5, 6], [8, 0]]
    assert nlp.pad_sequences([[5, 6, 7]], 2, truncate="pre").tolist() == [[6, 7]]
