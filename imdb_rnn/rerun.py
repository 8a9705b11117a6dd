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
import urllib.parse
from importlib import metadata
from pathlib import Path
from typing import Any

from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL, SourceConfig
from imdb_rnn.files import sha256_file

PACKAGE = "imdb-rnn"
# Settings that change how a run goes, not what it computes. The source is compared by the
# sha256 of its bytes instead of by its location.
# Where and how fast the arithmetic runs does not change the results.
_NOT_COMPARED = {"training": {"retrain", "threads", "mirrored"}}
_NOT_COMPARED_SECTIONS = {"source", "runner"}


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def expected_source_sha256(source: SourceConfig) -> str | None:
    """The archive's sha256 without downloading it; ``None`` when only the flow can tell."""
    if source.sha256:
        return source.sha256
    if source.source == CANONICAL_URL:
        return CANONICAL_SHA256
    parts = urllib.parse.urlsplit(source.source)
    if parts.scheme not in ("", "file"):
        return None
    path = Path(urllib.parse.unquote(parts.path) if parts.scheme == "file" else source.source)
    path = path.expanduser()
    if not path.is_file():
        return None  # an extracted folder, or missing: the flow says what is wrong
    beside = path.with_name(path.name + ".sha256")
    if beside.is_file():
        return beside.read_text(encoding="utf-8").split()[0].lower()
    return sha256_file(path)


def _comparable(name: str, settings: Any) -> Any:
    if not isinstance(settings, dict):
        return settings
    return {k: v for k, v in settings.items() if k not in _NOT_COMPARED.get(name, set())}


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
    sha256 = expected_source_sha256(configs["source"])
    if sha256 is None or run.get("data", {}).get("source_sha256") != sha256:
        return None
    for name, config in configs.items():
        if name in _NOT_COMPARED_SECTIONS:
            continue
        wanted = _comparable(name, config.model_dump(mode="json"))
        if _comparable(name, run.get(name)) != wanted:
            return None
    return metrics if _outputs_intact(metrics, latest.resolve()) else None
