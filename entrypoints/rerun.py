"""Recognise a run whose inputs are exactly those of the last finished run.

Every step of the flow already reuses its cached output when its inputs are unchanged, but
a flow run still costs a temporary Prefect server and the imports, several seconds that
are most of an unchanged re-run. ``imdb-rnn run`` asks this module first, with nothing
heavy imported: when the last run in the data folder had the same data (by sha256), the
same settings and the same version of this package, and everything it wrote is still
there, its report is the answer and no flow runs. ``--force`` (or ``--retrain``) runs the
flow anyway.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from imdb_rnn.config import SourceConfig, TableConfig
from imdb_rnn.errors import DataSourceError
from imdb_rnn.files import sha256_file
from imdb_rnn.sources import expected_sha256, local_path, table_format, tables_sha256

PACKAGE = "imdb-rnn"
# The settings that decide what a run computes. The source is compared by the sha256 of its
# bytes instead of by its location; how and where the arithmetic runs (execution, runner)
# does not change what is computed.
RESULT_SECTIONS = (
    "preprocess",
    "model",
    "training",
    "baseline",
    "champion",
    "claims",
    "report",
    "table",
)


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def expected_source_sha256(source: SourceConfig, table: TableConfig | None = None) -> str | None:
    """The source's sha256 without downloading it; ``None`` when only the flow can tell."""
    try:
        known = expected_sha256(source.source, source.sha256)
    except DataSourceError:
        return None  # a malformed .sha256 file: the flow says what is wrong
    if known is None:
        # An extracted folder, a missing file or a URL without a checksum: the flow tells.
        path = local_path(source.source)
        known = sha256_file(path) if path.is_file() else None
    test_source = table.test_source if table is not None else None
    if known is None or test_source is None or table_format(source.source) is None:
        return known
    test_path = local_path(test_source)
    return tables_sha256(known, sha256_file(test_path)) if test_path.is_file() else None


def _outputs_intact(metrics: dict[str, Any], report_dir: Path) -> bool:
    if not all((report_dir / name).is_file() for name in ("summary.md", "report.html")):
        return False
    for model in metrics.get("models", []):
        for key in ("model_path", "predictions_path"):
            if model.get(key) and not Path(model[key]).is_file():
                return False
    return True


def unchanged_last_run(configs: dict[str, Any], reports_dir: Path) -> dict[str, Any] | None:
    """The last run's ``metrics.json`` if this run would compute exactly the same; else None."""
    latest = reports_dir / "latest"
    try:
        metrics = json.loads((latest / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run = metrics.get("run", {})
    if run.get("software", {}).get(PACKAGE) != package_version():
        return None
    sha256 = expected_source_sha256(configs["source"], configs.get("table"))
    if sha256 is None or run.get("data", {}).get("source_sha256") != sha256:
        return None
    for name in RESULT_SECTIONS:
        if run.get(name) != configs[name].model_dump(mode="json"):
            return None
    return metrics if _outputs_intact(metrics, latest.resolve()) else None
