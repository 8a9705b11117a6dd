"""The shared folder of XLA-compiled steps: whole entries only, loaded by later processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_models.compilation_cache import is_complete_entry, machine_folder

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _entry(executable: bytes = b"\x90" * 300) -> bytes:
    """An entry laid out as TensorFlow writes one: key, HLO module, then the executable."""
    return _field(1, b"key" * 5) + _field(2, b"hlo" * 200) + _field(3, executable)


def test_a_whole_entry_is_complete_and_every_truncation_of_it_is_not(tmp_path):
    data = _entry()
    path = tmp_path / "entry.pb"
    path.write_bytes(data)
    assert is_complete_entry(path)
    for length in range(len(data)):
        path.write_bytes(data[:length])
        assert not is_complete_entry(path), f"truncated to {length} of {len(data)} bytes"


def test_entries_without_an_executable_or_with_another_layout_are_not_complete(tmp_path):
    path = tmp_path / "entry.pb"
    for data in (
        _field(1, b"key") + _field(2, b"hlo"),  # no executable
        _entry(executable=b""),  # an empty one
        _field(3, b"exe") + b"\x08\x01",  # a varint field: not an entry of this kind
        b"\xff" * 40,  # not a protocol buffer
    ):
        path.write_bytes(data)
        assert not is_complete_entry(path)
    assert not is_complete_entry(tmp_path / "missing.pb")


def test_the_shared_folder_is_named_after_tensorflow_and_the_instruction_set(tmp_path):
    from importlib import metadata

    folder = machine_folder(tmp_path)
    assert folder.parent == tmp_path
    assert folder.name.startswith(f"tf-{metadata.version('tensorflow')}-")
    assert machine_folder(tmp_path) == folder  # the same machine, the same folder


_PROCESS = """
import os
import sys
from pathlib import Path
from rnn_models.compilation_cache import machine_folder, publish_compiled, use_compilation_cache
print("USED", use_compilation_cache(machine_folder(Path(sys.argv[1]))))
import tensorflow as tf

@tf.function(jit_compile=True)
def step(x):
    return tf.reduce_sum(tf.matmul(x, x) + 1.0)

print("RESULT", float(step(tf.ones((4, 4)))))
print("PUBLISHED", publish_compiled())
print("FLAGS", os.environ.get("TF_XLA_FLAGS"))
"""


def _run_process(root: Path, xla_flags: str | None = None) -> subprocess.CompletedProcess[str]:
    # At this level TensorFlow logs "Loading cached entry" when it loads instead of compiling.
    environment = {**os.environ, "TF_CPP_MAX_VLOG_LEVEL": "1", "TF_CPP_MIN_LOG_LEVEL": "0"}
    environment.pop("TF_XLA_FLAGS", None)
    if xla_flags is not None:
        environment["TF_XLA_FLAGS"] = xla_flags
    result = subprocess.run(
        [sys.executable, "-c", _PROCESS, str(root)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESULT 80.0" in result.stdout  # sum of (ones(4,4) @ ones(4,4) + 1) = 16 * 5
    return result


@pytest.mark.slow
def test_a_later_process_loads_what_an_earlier_one_compiled_and_skips_broken_entries(tmp_path):
    shared = machine_folder(tmp_path)

    first = _run_process(tmp_path)
    assert "USED True" in first.stdout and "PUBLISHED 1" in first.stdout
    assert "FLAGS None" in first.stdout  # processes started later do not inherit its folder
    entries = sorted(shared.glob("*.pb"))
    assert entries, "the first process published nothing"
    assert all(is_complete_entry(entry) for entry in entries)
    assert "Loading cached entry" not in first.stderr
    assert not list((shared / ".staging").iterdir())  # its private folder is gone

    second = _run_process(tmp_path)
    assert "Loading cached entry" in second.stderr
    assert "PUBLISHED 0" in second.stdout
    assert sorted(shared.glob("*.pb")) == entries

    # A truncated entry, as a killed writer leaves it, makes TensorFlow fail the step
    # ("Read less bytes than requested"). It is neither loaded nor kept.
    whole = entries[0].read_bytes()
    entries[0].write_bytes(whole[: len(whole) // 2])
    third = _run_process(tmp_path)
    assert len(entries) == 1  # one compiled step, so the third process compiled it again
    assert "Loading cached entry" not in third.stderr
    assert is_complete_entry(entries[0])  # and replaced the broken entry with a whole one
    assert "Loading cached entry" in _run_process(tmp_path).stderr


@pytest.mark.slow
def test_a_folder_inherited_from_a_parent_is_replaced_and_the_users_own_is_kept(tmp_path):
    other_flag = "--tf_xla_persistent_cache_read_only=false"
    inherited = f"--tf_xla_persistent_cache_directory={tmp_path}/x/.staging/host-1 {other_flag}"
    child = _run_process(tmp_path / "child", xla_flags=inherited)
    assert "USED True" in child.stdout and "PUBLISHED 1" in child.stdout
    assert f"FLAGS {other_flag}" in child.stdout  # the parent's other flags stay
    assert not (tmp_path / "x").exists()

    own = f"--tf_xla_persistent_cache_directory={tmp_path}/mine"
    user = _run_process(tmp_path / "user", xla_flags=own)
    assert "USED False" in user.stdout
    assert list((tmp_path / "mine").glob("*.pb"))  # TensorFlow wrote where the user said
    assert not (tmp_path / "user").exists()
