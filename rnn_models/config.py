"""The shape of a recurrent model, beside the registry that builds it.

A typed config, so the flow's parameter form in the Prefect UI and ``imdb-rnn run --help``
both show these fields with their defaults and descriptions, and a bad value is refused
before any work starts. The defaults are the seed notes' ``Embedding(10000, 32) ->
RNN(32) -> Dense(1, sigmoid)``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ModelConfig(BaseModel):
    """Shape of every recurrent model; the architecture is chosen by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embedding_dim: int = Field(default=32, gt=0, description="Embedding width.")
    units: int = Field(default=32, gt=0, description="Recurrent units per direction.")
    dropout: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Dropout before the output layer."
    )
    embedding_dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Share of embedding channels dropped for a whole review while training "
        "(spatial dropout), against memorising rare words.",
    )
    pooling: Literal["last", "max", "mean", "max_mean"] = Field(
        default="last",
        description="What the classifier reads: the recurrent layer's last state ('last'), "
        "or its outputs at every position pooled over time (max, mean, or both concatenated), "
        "over the review's own positions: padding is left out.",
    )
    bigram_buckets: int = Field(
        default=0,
        ge=0,
        description="Hash each pair of neighbouring token ids into this many buckets and add "
        "the pair's own embedding to the second token's (fastText-style word bigrams, so "
        "'not good' gets a vector of its own); 0 = words only.",
    )
    skip_padding: bool = Field(
        default=False,
        description="Mask padding in the recurrent layer, so that it steps over it and a "
        "review's output does not depend on its padding. Training then groups reviews of "
        "similar length into batches and cuts each batch to its longest review, and "
        "prediction does the same: at maxlen 600 up to 2.6x fewer recurrent steps. With a "
        "GPU, pair it with padding 'post': cuDNN kernels take right-padded masks only.",
    )

    @field_validator("bigram_buckets")
    @classmethod
    def _zero_or_room_for_pairs(cls, value: int) -> int:
        if value == 1:
            raise ValueError("bigram_buckets must be 0 (off) or at least 2: bucket 0 is padding")
        return value
