"""The error families: what each error is, so that callers can catch a whole family."""

from __future__ import annotations

import inspect

import pytest

from imdb_rnn import errors
from imdb_rnn.errors import (
    ChecksumMismatchError,
    ConfigError,
    DataContractError,
    DatasetLayoutError,
    DataSourceError,
    DiskFullError,
    DownloadError,
    ImdbRnnError,
    TableError,
    UnsafeArchiveError,
)


def test_every_error_class_derives_from_the_project_base():
    classes = [
        value
        for _, value in inspect.getmembers(errors, inspect.isclass)
        if value.__module__ == errors.__name__
    ]
    assert ImdbRnnError in classes
    assert len(classes) == 10
    for cls in classes:
        assert issubclass(cls, ImdbRnnError), cls.__name__


def test_a_config_error_is_a_value_error_and_a_project_error():
    with pytest.raises(ValueError, match="bad maxlen"):
        raise ConfigError("bad maxlen")
    assert issubclass(ConfigError, ImdbRnnError)


@pytest.mark.parametrize(
    "cls", [DownloadError, ChecksumMismatchError, UnsafeArchiveError, DatasetLayoutError]
)
def test_the_data_source_family_holds_every_fetch_verify_and_unpack_error(cls):
    assert issubclass(cls, DataSourceError)
    assert not issubclass(cls, ValueError)


@pytest.mark.parametrize("cls", [DiskFullError, DataContractError, DataSourceError])
def test_errors_outside_the_config_family_are_not_value_errors(cls):
    assert not issubclass(cls, ValueError)
    assert not issubclass(cls, ConfigError)


@pytest.mark.parametrize("transient", [True, False])
def test_a_download_error_carries_whether_trying_again_can_help(transient):
    error = DownloadError("timed out fetching the archive", transient=transient)
    assert error.transient is transient
    assert str(error) == "timed out fetching the archive"
    assert isinstance(error, DataSourceError)


def test_a_download_error_must_say_whether_it_is_transient():
    with pytest.raises(TypeError):
        DownloadError("no flag")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        DownloadError("positional flag", True)  # type: ignore[misc]


def test_a_table_error_is_a_data_source_error():
    assert issubclass(TableError, DataSourceError)
