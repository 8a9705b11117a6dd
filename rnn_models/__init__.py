"""Recurrent sentiment models, built by name from one registry."""

from rnn_models.config import ModelConfig
from rnn_models.registry import ARCHITECTURE_NAMES, build_model, reads_any_length

__all__ = ["ARCHITECTURE_NAMES", "ModelConfig", "build_model", "reads_any_length"]
