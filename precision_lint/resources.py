"""Where the package's shipped data lives (platform table, schemas, converter notes, snippet templates...)."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    return DATA_DIR / name
