"""What every config shares: frozen, and no unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A config: immutable, so a shared default is safe, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def comma_separated(value: object) -> object:
    """``"a,b"`` as ``("a", "b")``, so that a flag and a form field can both give a list."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value
