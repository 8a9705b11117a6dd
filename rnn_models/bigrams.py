"""Hashed word-bigram embeddings computed inside the model, from the unigram token ids.

A recurrent layer has to learn from data that "not" flips "good"; giving each pair of
neighbouring words a vector of its own (as fastText does) hands it that directly, while the
model still reads one token per step and the input stays the prepared unigram ids. Pairs
are hashed into a fixed number of buckets, so no bigram vocabulary has to be built or saved.

This module imports Keras when imported. It is imported by ``build_model`` and by
``rnn_models.optimizers.load_model``, so that a saved model's layers are known when it is
read back.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# A Mersenne prime and a multiplier below it: multiplying modulo a prime scatters pair ids
# over [0, P) before they are folded into the buckets. Folding ``prev * vocab + id`` into the
# buckets directly would make buckets and vocabulary sizes that share factors (200,000 and
# 20,000) collide almost every pair.
_PRIME = 2_147_483_647
_MULTIPLIER = 1_597_334_677


def bigram_ids_numpy(tokens: Any, vocab_size: int, buckets: int) -> Any:
    """What ``BigramIds`` computes, in NumPy: the reference the layer is tested against."""
    import numpy as np

    tokens = np.asarray(tokens, dtype=np.int64)
    previous = np.concatenate([np.zeros_like(tokens[:, :1]), tokens[:, :-1]], axis=1)
    pair = (previous * vocab_size + tokens) % _PRIME
    hashed = 1 + (pair * _MULTIPLIER % _PRIME) % (buckets - 1)
    return np.where((previous == 0) | (tokens == 0), 0, hashed)


@keras.saving.register_keras_serializable(package="imdb_rnn")
class BigramIds(keras.layers.Layer):
    """Token ids ``(batch, T)`` -> id of the pair (previous token, token) at each position.

    Ids lie in ``1..buckets-1``; a pair that involves padding (id 0), and so the first
    token of a review, gets 0, which the bigram embedding can learn to ignore.
    """

    def __init__(self, vocab_size: int, buckets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if buckets < 2:
            raise ValueError(f"buckets must be at least 2 (bucket 0 is padding), got {buckets}")
        self.vocab_size = int(vocab_size)
        self.buckets = int(buckets)

    def call(self, tokens: Any) -> Any:
        tokens = ops.cast(tokens, "int64")
        previous = ops.concatenate([ops.zeros_like(tokens[:, :1]), tokens[:, :-1]], axis=1)
        # Both factors stay below 2**31, so the products fit in int64.
        pair = ops.mod(previous * self.vocab_size + tokens, _PRIME)
        hashed = 1 + ops.mod(ops.mod(pair * _MULTIPLIER, _PRIME), self.buckets - 1)
        padding = ops.logical_or(ops.equal(previous, 0), ops.equal(tokens, 0))
        return ops.cast(ops.where(padding, 0, hashed), "int32")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets}


@keras.saving.register_keras_serializable(package="imdb_rnn")
class BigramEmbedding(keras.layers.Embedding):
    """An ``Embedding`` of the tokens plus an embedding of their hashed bigrams.

    It is an ``Embedding`` itself, so that code which splits a model at its embedding output
    (the gradient by position in ``rnn_models.probes``) sees unigrams and bigrams together.
    """

    def __init__(self, input_dim: int, output_dim: int, buckets: int, **kwargs: Any) -> None:
        super().__init__(input_dim, output_dim, **kwargs)
        self.buckets = int(buckets)
        self.bigram_ids = BigramIds(input_dim, buckets, name="bigram_ids")
        self.bigram_embedding = keras.layers.Embedding(buckets, output_dim, name="bigram_embedding")

    def build(self, input_shape: Any = None) -> None:
        super().build(input_shape)
        self.bigram_embedding.build(input_shape)

    def call(self, inputs: Any) -> Any:
        return super().call(inputs) + self.bigram_embedding(self.bigram_ids(inputs))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "buckets": self.buckets}
