"""The one registry of recurrent architectures.

Adding an architecture is one builder function and one line in ``_RECURRENT_BLOCKS``.
Keras is imported inside the functions, so importing this module (for the list of
names the configs validate against) stays instant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rnn_models.config import ModelConfig

# Layers keep Keras' default activations, recurrent_dropout=0 and unroll=False so that the
# same model runs on the fused cuDNN kernels when a GPU is present.


def _every_step(config: ModelConfig) -> bool:
    """Pooling over time needs the recurrent layer's output at every position."""
    return config.pooling != "last"


def _simple_rnn(layers: Any, config: ModelConfig) -> Any:
    return layers.SimpleRNN(config.units, return_sequences=_every_step(config), name="simple_rnn")


def _lstm(layers: Any, config: ModelConfig) -> Any:
    return layers.LSTM(config.units, return_sequences=_every_step(config), name="lstm")


def _gru(layers: Any, config: ModelConfig) -> Any:
    return layers.GRU(config.units, return_sequences=_every_step(config), name="gru")


def _bilstm(layers: Any, config: ModelConfig) -> Any:
    return layers.Bidirectional(
        layers.LSTM(config.units, return_sequences=_every_step(config)), name="bilstm"
    )


def _bigru(layers: Any, config: ModelConfig) -> Any:
    return layers.Bidirectional(
        layers.GRU(config.units, return_sequences=_every_step(config)), name="bigru"
    )


_RECURRENT_BLOCKS: dict[str, Callable[[Any, ModelConfig], Any]] = {
    "simple_rnn": _simple_rnn,
    "lstm": _lstm,
    "gru": _gru,
    "bilstm": _bilstm,
    "bigru": _bigru,
}

ARCHITECTURE_NAMES: tuple[str, ...] = tuple(_RECURRENT_BLOCKS)


def reads_any_length(model: Any) -> bool:
    """Whether ``model`` skips padding, and so may be fed batches cut to their longest review."""
    return model.inputs[0].shape[1] is None


def build_model(
    name: str, config: ModelConfig, vocab_size: int, maxlen: int, classes: int = 2
) -> Any:
    """Build an uncompiled ``Embedding -> recurrent block [-> pooling] -> Dense(1, sigmoid)``,
    or ``-> Dense(K, softmax)`` for ``classes`` = K > 2.

    With ``config.bigram_buckets`` the embedding also adds a hashed embedding of each pair
    of neighbouring tokens (``rnn_models.bigrams``); the recurrent block is the same. Pooling
    over time reads the token ids too, to leave padding out (``rnn_models.pooling``).

    With ``config.skip_padding`` the recurrent block gets a mask from the token ids and steps
    over padding, so a review's output does not depend on how much padding surrounds it. Such
    a model takes sequences of any length (``reads_any_length``), which lets training and
    prediction cut each batch to its longest review (``rnn_models.datasets``).

    Args:
        name: An entry of ``ARCHITECTURE_NAMES``.
        config: Embedding width, bigram buckets, recurrent units, pooling over time and
            dropout.
        vocab_size: Number of token ids, padding and unknown included.
        maxlen: Length of every input sequence; any length with ``config.skip_padding``.
        classes: How many classes the labels have. Two keep the seed notes' single sigmoid
            output (the probability of the second class), so binary models are unchanged.

    Raises:
        KeyError: ``name`` is not a registered architecture.
        ValueError: ``classes`` is below two.
    """
    if name not in _RECURRENT_BLOCKS:
        raise KeyError(
            f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURE_NAMES)}"
        )
    if classes < 2:
        raise ValueError(f"a classifier needs at least two classes, not {classes}")
    import keras

    layers = keras.layers
    length = None if config.skip_padding else maxlen
    tokens = keras.Input(shape=(length,), dtype="int32", name="tokens")
    if config.bigram_buckets:
        from rnn_models.bigrams import BigramEmbedding

        embedding = BigramEmbedding(
            vocab_size, config.embedding_dim, config.bigram_buckets, name="embedding"
        )
    else:
        embedding = layers.Embedding(vocab_size, config.embedding_dim, name="embedding")
    hidden = embedding(tokens)
    if config.embedding_dropout > 0:
        hidden = layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(hidden)
    recurrent = _RECURRENT_BLOCKS[name](layers, config)
    if config.skip_padding:
        # An explicit mask rather than Embedding(mask_zero=True): the bigram embedding and
        # spatial dropout need not carry it, and the pooling reads the token ids anyway.
        hidden = recurrent(hidden, mask=keras.ops.not_equal(tokens, 0))
    else:
        hidden = recurrent(hidden)
    if config.pooling != "last":
        from rnn_models.pooling import PoolOverTime

        hidden = PoolOverTime(config.pooling, name=f"{config.pooling}_over_time")(hidden, tokens)
    if config.dropout > 0:
        hidden = layers.Dropout(config.dropout, name="dropout")(hidden)
    if classes > 2:
        output = layers.Dense(classes, activation="softmax", name="class_probabilities")(hidden)
    else:
        output = layers.Dense(1, activation="sigmoid", name="positive_probability")(hidden)
    return keras.Model(tokens, output, name=name)
