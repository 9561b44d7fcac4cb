"""sepconv_keras.distribute.make_strategy: unknown strategies, bad combinations, a missing TF_CONFIG."""

from __future__ import annotations

import pytest

from sepconv_keras.distribute import make_strategy


@pytest.mark.parametrize(
    ("name", "replicas", "message"),
    [
        ("mirored", None, "--strategy must be one of default, mirrored, multi-worker"),
        ("default", 2, "--cpu-replicas needs --strategy mirrored"),
        ("mirrored", 0, "--cpu-replicas needs --strategy mirrored and a positive count"),
    ],
)
def test_refused(name: str, replicas: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_strategy(name, replicas)


def test_multi_worker_needs_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG is not set"):
        make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        make_strategy("multi-worker")
