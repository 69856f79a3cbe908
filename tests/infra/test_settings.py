"""`ftbot package` (make package) needs only MicrosoftAppId and FTBOT_PUBLIC_HOST: the README's
production settings without admins, Azure or state still build the zip, and a missing one of the
two is named in one sentence (issue 32: it stopped at FTBOT_ADMINS, then at the Azure settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.package import check_package, read_package

ROOT = Path(__file__).resolve().parents[2]
BOT_ID = "2f1b6a9c-6f43-4f1e-9c8a-2a3c4e5f6a7b"
HOST = "ftbot.contoso.com"


def _package(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ftbot package` from a folder with no .env, with exactly `env` (and the interpreter's
    path to this checkout)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "package", "--out", str(tmp_path / "app.zip")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_two_settings_are_enough(tmp_path: Path) -> None:
    done = _package(tmp_path, {"MicrosoftAppId": BOT_ID, "FTBOT_PUBLIC_HOST": HOST})
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path / 'app.zip'} (Teams app for bot {BOT_ID} at https://{HOST})\n"
    files = read_package(tmp_path / "app.zip")
    assert check_package(files) == []


def test_the_readme_step_2_settings_build_it_without_admins_or_azure(tmp_path: Path) -> None:
    """What README "Install in Teams" step 2 sets, and a setting that would stop the bot's start
    (blob state without an account): the package reads neither."""
    env = {
        "MicrosoftAppId": BOT_ID,
        "MicrosoftAppPassword": "a-secret",
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": "00000000-0000-4000-8000-0000000000aa",
        "FTBOT_PUBLIC_HOST": HOST,
        "FTBOT_STATE": "blob",
    }
    done = _package(tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "app.zip").is_file()


@pytest.mark.parametrize(
    ("missing", "sentence"),
    [
        (
            "MicrosoftAppId",
            "Set MicrosoftAppId (the Azure Bot's app id) to build the Teams package.",
        ),
        (
            "FTBOT_PUBLIC_HOST",
            "Set FTBOT_PUBLIC_HOST to the bot's public host name (like bot.contoso.com) to build "
            "the Teams package.",
        ),
    ],
)
def test_a_missing_one_is_named(tmp_path: Path, missing: str, sentence: str) -> None:
    env = {"MicrosoftAppId": BOT_ID, "FTBOT_PUBLIC_HOST": HOST}
    del env[missing]
    done = _package(tmp_path, env)
    assert (done.returncode, done.stderr) == (2, f"ftbot: {sentence}\n")
    assert not (tmp_path / "app.zip").exists()
