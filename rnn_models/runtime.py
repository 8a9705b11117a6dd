"""How TensorFlow runs our models: XLA, threads, seeding, devices and training state.

Measured on a 2-core CPU (see docs/BENCHMARKS.md), the seed models train about 2x faster
when the train step is XLA-compiled, which Keras leaves off on CPU-only machines.

TensorFlow is imported inside the functions, so importing this module stays instant.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

XlaMode = Literal["auto", "on", "off"]


def jit_compile_setting(xla: XlaMode, every_step_output: bool = False) -> bool | str:
    """The ``jit_compile`` argument for ``model.compile``.

    ``auto`` turns XLA on when TensorFlow sees no GPU, except for models whose recurrent
    layer returns its output at every step (pooling over time): XLA made those about 6x
    *slower* on CPU here, while it made last-state models about 2x faster. With a GPU, ``auto``
    leaves the choice to Keras, which keeps XLA off for LSTM and GRU so that they run on
    the fused cuDNN kernels.
    """
    if xla == "on":
        return True
    if xla == "off":
        return False
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "auto"
    return not every_step_output


def configure_tensorflow(seed: int, threads: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow, and bound TensorFlow's CPU threads.

    On CPU these runs are reproducible without TensorFlow's op-determinism switch, which
    would also keep XLA from fusing the recurrent loop. ``threads=0`` keeps TensorFlow's
    default (one per core). Thread pools can only be sized before TensorFlow first runs an
    op; later requests in the same process are logged and ignored.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if threads <= 0:
        return
    threading = tf.config.threading
    if (
        threading.get_intra_op_parallelism_threads() == threads
        and threading.get_inter_op_parallelism_threads() == threads
    ):
        return
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        log.warning(
            "TensorFlow already started in this process; keeping its thread pools "
            "instead of %d threads",
            threads,
        )


_CONSTRUCTION_LOCK = threading.Lock()


@contextlib.contextmanager
def seeded_construction(seed: int) -> Iterator[None]:
    """Build a model inside this so that its initial weights depend on ``seed`` alone.

    Keras gives every initializer and dropout layer built without a seed one drawn from
    Python's global ``random``. Other threads of the process draw from it too (Prefect's
    and Dask's clients jitter their retries with it), so on a Dask worker the same seed gave
    different initial weights from one run to the next. Inside this block Keras draws from a
    private generator seeded as ``keras.utils.set_random_seed(seed)`` seeds the global one:
    the same weights as an undisturbed run, whatever else the process does. Builds take
    turns, since the generator is swapped for the whole process.
    """
    from keras.src.random import seed_generator

    with _CONSTRUCTION_LOCK:
        shared = seed_generator.python_random
        seed_generator.python_random = random.Random(seed)
        try:
            yield
        finally:
            seed_generator.python_random = shared


@contextlib.contextmanager
def distribution_scope(mirrored: bool, logger: Any = log) -> Iterator[int]:
    """Build and compile inside this to train on several devices; yields the replica count.

    With ``mirrored`` the model is built under ``tf.distribute.MirroredStrategy`` over every
    GPU, or over the CPU's logical devices when there is no GPU (one, unless the process
    split its CPU in several before TensorFlow started). Otherwise nothing changes.
    """
    if not mirrored:
        yield 1
        return
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = [device.name for device in gpus or tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    logger.info(
        "MirroredStrategy: %d replica(s) on %s", strategy.num_replicas_in_sync, ", ".join(devices)
    )
    with strategy.scope():
        yield strategy.num_replicas_in_sync


def create_training_state(model: Any) -> None:
    """Create the compiled ``model``'s optimizer and metric variables now, before ``fit``.

    Keras creates them while it traces the first train step when no distribution strategy
    is set, and TensorFlow then traces that step a second time, since a traced function may
    create variables only once. Created here, eagerly and from constants, the step is traced
    once: 0.27 s less per seed SimpleRNN fit on a 2-core CPU, out of about 4 s. The metrics'
    running totals are reset afterwards, so they start from zero as ``fit`` expects.
    """
    model.optimizer.build(model.trainable_variables)
    # One review's label and predicted probabilities, shaped as the training batches are
    # (the shapes decide which accuracy Keras computes: of one sigmoid, or of K softmax).
    width = int(model.outputs[0].shape[-1] or 1)
    model.compute_metrics(
        None, np.zeros((1,), np.float32), np.full((1, width), 1 / max(width, 2), np.float32)
    )
    model.reset_metrics()


def steps_per_execution(steps: int, most: int = 32) -> int:
    """How many train steps Keras runs per call into TensorFlow: the largest divisor of an
    epoch's ``steps`` up to ``most``.

    Each call costs Keras about 1.5 ms of Python on a 2-core CPU, 5 % of a seed LSTM's
    step. A divisor, so that no call runs across the end of an epoch: every epoch still
    sees exactly its own batches.
    """
    return max(size for size in range(1, min(most, steps) + 1) if steps % size == 0)


def model_layers(model: Any) -> list[Any]:
    """Every layer of ``model``, the ones inside wrappers such as ``Bidirectional`` and inside
    nested models (an ensemble's members) included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(model_layers(layer))
        for inner in ("forward_layer", "backward_layer", "layer"):
            if hasattr(layer, inner):
                found.append(getattr(layer, inner))
    return found
