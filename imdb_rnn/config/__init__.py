"""Typed configuration, one object per concern.

The flow takes these as parameters, so the Prefect UI renders them as forms and rejects bad
values before any work starts, and ``imdb-rnn run --help`` shows the same fields with the
same defaults and descriptions. The defaults reproduce the seed notes:
``imdb.load_data(num_words=10000)``, ``pad_sequences(maxlen=200)``, adam, 2 epochs,
batch 64, validation fraction 0.2. The model's shape is ``rnn_models.config.ModelConfig``.

What a run computes (source, preprocess, model, training, baseline, champion, claims) is
kept apart from how it computes it (``ExecutionConfig``, ``RunnerConfig``): only the former
identifies a prepared dataset, a trained model or an unchanged re-run.
"""

from imdb_rnn.config.data import (
    CANONICAL_SHA256,
    CANONICAL_URL,
    TABLE_SUFFIXES,
    PreprocessConfig,
    SourceConfig,
    TableConfig,
)
from imdb_rnn.config.steps import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ReportConfig,
    check_champion_evidence,
)
from imdb_rnn.config.training import (
    SEED_ARCHITECTURES,
    ExecutionConfig,
    FitConfig,
    RunnerConfig,
    TrainingConfig,
)

__all__ = [
    "CANONICAL_SHA256",
    "CANONICAL_URL",
    "SEED_ARCHITECTURES",
    "TABLE_SUFFIXES",
    "BaselineConfig",
    "ChampionConfig",
    "ClaimsConfig",
    "ExecutionConfig",
    "FitConfig",
    "PreprocessConfig",
    "ReportConfig",
    "RunnerConfig",
    "SourceConfig",
    "TableConfig",
    "TrainingConfig",
    "check_champion_evidence",
]
