"""The architecture registry: names, shapes and exact parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_rnn.config import ModelConfig
from rnn_models import ARCHITECTURE_NAMES, build_model

pytestmark = pytest.mark.slow

VOCAB, EMBED, UNITS, MAXLEN = 50, 8, 4, 12
EMBEDDING_PARAMS = VOCAB * EMBED  # 400
# Per-layer counts from the cell equations (Keras 3 GRU uses reset_after: two bias vectors).
EXPECTED_PARAMS = {
    "simple_rnn": EMBEDDING_PARAMS + UNITS * (EMBED + UNITS + 1) + (UNITS + 1),  # 457
    "lstm": EMBEDDING_PARAMS + 4 * UNITS * (EMBED + UNITS + 1) + (UNITS + 1),  # 613
    "gru": EMBEDDING_PARAMS + 3 * UNITS * (EMBED + UNITS + 2) + (UNITS + 1),  # 573
    "bilstm": EMBEDDING_PARAMS + 2 * 4 * UNITS * (EMBED + UNITS + 1) + (2 * UNITS + 1),  # 825
    "bigru": EMBEDDING_PARAMS + 2 * 3 * UNITS * (EMBED + UNITS + 2) + (2 * UNITS + 1),  # 745
}


def test_registry_lists_the_seed_architectures_and_the_bidirectional_ones():
    assert set(ARCHITECTURE_NAMES) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_build_model_has_expected_parameters_and_output(name):
    model = build_model(name, ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, MAXLEN)
    assert model.count_params() == EXPECTED_PARAMS[name]
    batch = np.zeros((2, MAXLEN), dtype=np.int32)
    batch[1, -3:] = [5, 6, 7]
    out = np.asarray(model(batch))
    assert out.shape == (2, 1)
    assert np.all((out > 0) & (out < 1))


def test_dropout_adds_a_layer_but_no_parameters():
    plain = build_model("lstm", ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, MAXLEN)
    dropped = build_model(
        "lstm", ModelConfig(embedding_dim=EMBED, units=UNITS, dropout=0.5), VOCAB, MAXLEN
    )
    assert dropped.count_params() == plain.count_params()
    assert "dropout" in [layer.name for layer in dropped.layers]


def test_unknown_architecture_names_the_choices():
    with pytest.raises(KeyError, match=r"transformer.*simple_rnn"):
        build_model("transformer", ModelConfig(), VOCAB, MAXLEN)
