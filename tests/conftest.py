"""Shared test set-up: offline, a private cache, the real data mirror when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from idl_helpers.core import environment


@pytest.fixture(scope="session", autouse=True)
def _offline_private_cache(tmp_path_factory):
    """No test downloads from the internet, and none reuses a developer's cache."""
    old = {k: os.environ.get(k) for k in (environment.OFFLINE_ENV, environment.CACHE_DIR_ENV)}
    os.environ[environment.OFFLINE_ENV] = "1"
    if not os.environ.get("IDL_TEST_KEEP_CACHE"):
        os.environ[environment.CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("cache"))
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The offline data mirror ($IDL_DATA_DIR or ../shared/data); tests needing it skip without it,
    and fail instead when ``IDL_REQUIRE_DATA=1`` (CI sets it: there a missing mirror is an error)."""
    from idl_helpers.data import DataError

    try:
        d = environment.data_dir()
        problem = None if d is not None and d.is_dir() else \
            "no local data directory: set IDL_DATA_DIR to the data mirror"
    except DataError as exc:
        problem = str(exc)
    if problem:
        if os.environ.get("IDL_REQUIRE_DATA", "").strip() not in ("", "0"):
            pytest.fail(f"{problem} (IDL_REQUIRE_DATA=1: the data mirror is required here)", pytrace=False)
        pytest.skip(problem)
    return d


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """An empty data directory and an empty cache, for the failure-case tests."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    cache.mkdir()
    monkeypatch.setenv(environment.DATA_DIR_ENV, str(data))
    monkeypatch.setenv(environment.CACHE_DIR_ENV, str(cache))
    monkeypatch.setenv(environment.OFFLINE_ENV, "1")
    return data
