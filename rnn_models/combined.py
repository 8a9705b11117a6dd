"""One Keras model over several trained ones: their mean (an ensemble), or their outputs
side by side (the recurrent part of a stack).

Members that skip padding read any length, and so does the combined model. Keras is
imported inside the functions, so importing this module stays instant.
"""

from __future__ import annotations

from typing import Any


def _member_outputs(members: list[Any]) -> tuple[Any, list[Any]]:
    """A shared token input, and each member's output for it."""
    import keras

    tokens = keras.Input(shape=members[0].inputs[0].shape[1:], dtype="int32", name="tokens")
    # Re-wrapped under distinct names: loaded members all carry the name they were built with.
    outputs = [
        keras.Model(member.inputs[0], member.outputs[0], name=f"member_{number}")(tokens)
        for number, member in enumerate(members, start=1)
    ]
    return tokens, outputs


def average_of(members: list[Any], name: str) -> Any:
    """One Keras model whose output is the mean of ``members``' outputs for the same tokens:
    of their one probability each, or for K-class members of each class's probability (the
    mean of rows that sum to one sums to one)."""
    import keras

    tokens, outputs = _member_outputs(members)
    return keras.Model(tokens, keras.layers.Average(name="mean_probability")(outputs), name=name)


def side_by_side(members: list[Any], name: str) -> Any:
    """One Keras model whose outputs are ``members``' probabilities, a column each."""
    import keras

    tokens, outputs = _member_outputs(members)
    joined = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="members")(outputs)
    return keras.Model(tokens, joined, name=name)
