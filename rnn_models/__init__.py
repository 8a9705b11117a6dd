"""Recurrent sentiment models, built by name from one registry."""

from rnn_models.registry import ARCHITECTURE_NAMES, build_model

__all__ = ["ARCHITECTURE_NAMES", "build_model"]
