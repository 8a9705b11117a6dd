"""Every location the pipeline reads or writes, declared in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataPaths:
    """Folders under the data root. Building one creates nothing on disk."""

    root: Path

    @classmethod
    def at(cls, root: str | Path) -> DataPaths:
        return cls(Path(root).expanduser().resolve())

    @property
    def archives(self) -> Path:
        return self.root / "raw" / "archives"

    @property
    def extracted(self) -> Path:
        return self.root / "raw" / "extracted"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def champion(self) -> Path:
        """A link to the folder of the model in service, swapped atomically on promotion."""
        return self.models / "champion"

    @property
    def champions(self) -> Path:
        """Every model ever promoted, one immutable folder each."""
        return self.models / "champions"

    @property
    def claims(self) -> Path:
        """Synthetic long-range results of the claims step, one JSON file per fingerprint."""
        return self.root / "claims"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def history(self) -> Path:
        return self.reports / "history.parquet"

    def report_dir(self, run_id: str) -> Path:
        return self.reports / run_id
