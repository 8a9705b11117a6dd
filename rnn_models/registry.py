"""The one registry of recurrent architectures.

Adding an architecture is one builder function and one line in ``_RECURRENT_BLOCKS``.
Keras is imported inside the functions, so importing this module (for the list of
names the configs validate against) stays instant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imdb_rnn.config import ModelConfig

# Layers keep Keras' default activations, recurrent_dropout=0 and unroll=False so that the
# same model runs on the fused cuDNN kernels when a GPU is present.


def _simple_rnn(layers: Any, config: ModelConfig) -> Any:
    return layers.SimpleRNN(config.units, name="simple_rnn")


def _lstm(layers: Any, config: ModelConfig) -> Any:
    return layers.LSTM(config.units, name="lstm")


def _gru(layers: Any, config: ModelConfig) -> Any:
    return layers.GRU(config.units, name="gru")


def _bilstm(layers: Any, config: ModelConfig) -> Any:
    return layers.Bidirectional(layers.LSTM(config.units), name="bilstm")


def _bigru(layers: Any, config: ModelConfig) -> Any:
    return layers.Bidirectional(layers.GRU(config.units), name="bigru")


_RECURRENT_BLOCKS: dict[str, Callable[[Any, ModelConfig], Any]] = {
    "simple_rnn": _simple_rnn,
    "lstm": _lstm,
    "gru": _gru,
    "bilstm": _bilstm,
    "bigru": _bigru,
}

ARCHITECTURE_NAMES: tuple[str, ...] = tuple(_RECURRENT_BLOCKS)


def build_model(name: str, config: ModelConfig, vocab_size: int, maxlen: int) -> Any:
    """Build an uncompiled ``Embedding -> recurrent block -> Dense(1, sigmoid)`` model.

    Args:
        name: An entry of ``ARCHITECTURE_NAMES``.
        config: Embedding width, recurrent units and dropout.
        vocab_size: Number of token ids, padding and unknown included.
        maxlen: Length of every input sequence.

    Raises:
        KeyError: ``name`` is not a registered architecture.
    """
    if name not in _RECURRENT_BLOCKS:
        raise KeyError(
            f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURE_NAMES)}"
        )
    import keras

    layers = keras.layers
    stack = [
        keras.Input(shape=(maxlen,), dtype="int32", name="tokens"),
        layers.Embedding(vocab_size, config.embedding_dim, name="embedding"),
        _RECURRENT_BLOCKS[name](layers, config),
    ]
    if config.dropout > 0:
        stack.append(layers.Dropout(config.dropout, name="dropout"))
    stack.append(layers.Dense(1, activation="sigmoid", name="positive_probability"))
    return keras.Sequential(stack, name=name)
