"""One exception type per family of failure; each message names the problem and the fix."""


class ImdbRnnError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ImdbRnnError, ValueError):
    """A parameter has a value the pipeline cannot use."""


class DataSourceError(ImdbRnnError):
    """The review archive cannot be fetched, verified or unpacked."""


class DownloadError(DataSourceError):
    """A network fetch failed; ``transient`` says whether trying again can help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ChecksumMismatchError(DataSourceError):
    """The bytes fetched are not the bytes expected."""


class UnsafeArchiveError(DataSourceError):
    """An archive member would land outside the extraction folder."""


class DatasetLayoutError(DataSourceError):
    """The files do not follow the aclImdb layout."""


class DiskFullError(ImdbRnnError):
    """A write ran out of disk space or quota; the half-written file was removed."""


class DataContractError(ImdbRnnError):
    """A processed file does not match the schema or parameters it should have."""


class TableError(DataSourceError):
    """A table of labeled text cannot be used: its format, a column, a label or some rows."""
