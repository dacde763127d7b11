"""Shared fixtures: where the real corpora are, and small synthetic audio."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The folder holding the corpora: ``SER_DATA`` if set, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("SER_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = data_dir()
    # The corpora are part of the test contract: a missing folder is an error, not a skip.
    if not (folder / "emodb").is_dir() or not (folder / "ravdess").is_dir():
        pytest.fail(f"real corpora not found under {folder} (set SER_DATA)")
    return folder


@pytest.fixture(scope="session")
def emodb_root(shared_data) -> Path:
    return shared_data / "emodb"


@pytest.fixture(scope="session")
def ravdess_root(shared_data) -> Path:
    return shared_data / "ravdess"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


#: Three emotions of four EmoDB speakers: a small real table that trains in seconds.
EMODB3_TASK = ("angry", "neutral", "sad")
EMODB3_SPEAKERS = ["emodb:03", "emodb:08", "emodb:10", "emodb:16"]


@pytest.fixture(scope="session")
def emodb3(emodb_root):
    from serwidgets import corpora, labels

    df = labels.select_task(corpora.load_corpus("emodb", emodb_root), EMODB3_TASK)
    return df[df["speaker"].isin(EMODB3_SPEAKERS)].reset_index(drop=True)
