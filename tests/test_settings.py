"""Settings come from arguments, then HUB_ variables, then hub.toml in the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.assembly import UnsafeListenError, check_listen_safety
from hub.settings import load_settings


def test_defaults_listen_on_loopback(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.host == "127.0.0.1"
    assert settings.listens_on_loopback
    assert settings.require_token


def test_toml_then_environment_then_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hub.toml").write_text("port = 9100\nmax_queue = 3\ncontext_length = 1024\n")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.port, settings.max_queue, settings.context_length) == (9100, 3, 1024)
    monkeypatch.setenv("HUB_PORT", "9200")
    assert load_settings(data_dir=tmp_path).port == 9200
    assert load_settings(data_dir=tmp_path, port=9300).port == 9300


def test_data_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "hub.toml").write_text("port = 9400\n")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.port == 9400


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_no_token_beyond_loopback_is_refused(tmp_path: Path, host: str) -> None:
    settings = load_settings(data_dir=tmp_path, host=host, require_token=False)
    assert not settings.listens_on_loopback
    with pytest.raises(UnsafeListenError, match="refusing"):
        check_listen_safety(settings)


def test_no_token_on_loopback_is_allowed(tmp_path: Path) -> None:
    check_listen_safety(load_settings(data_dir=tmp_path, host="localhost", require_token=False))
    check_listen_safety(load_settings(data_dir=tmp_path, host="0.0.0.0", require_token=True))
