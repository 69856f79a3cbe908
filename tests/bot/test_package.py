"""The Teams app package (bot/package.py): built by `ftbot package` from settings, valid against
the official manifest schema and the rules it leaves to the docs, generated from the command
table."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image

from bot.commands import build_router
from bot.package import (
    MAX_MENU,
    check_package,
    icons,
    localization,
    manifest,
    read_package,
)
from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
BOT_ID = "2f1b6a9c-6f43-4f1e-9c8a-2a3c4e5f6a7b"


def _package_env() -> dict[str, str]:
    """What `ftbot package` reads: the bot's app id and public host (and what production needs)."""
    return {
        **os.environ,
        "MicrosoftAppId": BOT_ID,
        "FTBOT_PUBLIC_HOST": "ftbot.contoso.com",
        "FTBOT_ADMINS": "00000000-0000-4000-8000-00000000ad01",
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-4000-8000-000000000001",
        "PORT": str(free_port()),
    }


@pytest.mark.slow  # runs `ftbot package`
def test_ftbot_package_runs_from_an_install_outside_the_checkout(tmp_path: Path) -> None:
    """The packages as setuptools builds them for a wheel (build_py: the modules and the package
    data pyproject.toml lists), run from a folder that is not the checkout: the Teams schemas come
    with bot/, and nothing is read from tests/."""
    source, lib, elsewhere = tmp_path / "source", tmp_path / "lib", tmp_path / "elsewhere"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("bot", "skills", "adaptive_cards", "infra", "sandbox"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "app.py", "cli.py"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py"]
    done = subprocess.run(
        [*build, "--build-lib", str(lib)], cwd=source, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    for name in ("MicrosoftTeams.schema.json", "MicrosoftTeams.Localization.schema.json"):
        assert (lib / "bot" / "teams_schema" / name).is_file(), name
    assert not (lib / "tests").exists()
    elsewhere.mkdir()
    out = elsewhere / "appPackage.zip"
    run = (
        "import bot, cli, sys; assert bot.__file__.startswith(sys.argv[1]), bot.__file__; "
        "sys.exit(cli.main(sys.argv[2:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", run, str(lib), "package", "--out", str(out)],
        cwd=elsewhere,
        env={**_package_env(), "PYTHONPATH": str(lib)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert check_package(read_package(out)) == []


@pytest.mark.slow  # runs `ftbot package`
def test_make_package_writes_a_valid_zip_from_settings(tmp_path: Path) -> None:
    out = tmp_path / "appPackage.zip"
    env = _package_env()
    done = subprocess.run(
        [sys.executable, "cli.py", "package", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    files = read_package(out)
    assert sorted(files) == ["color.png", "ko-kr.json", "manifest.json", "outline.png"]
    assert check_package(files) == []
    data = json.loads(files["manifest.json"])
    bot = data["bots"][0]
    assert bot["botId"] == BOT_ID and bot["supportsFiles"] is True
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert data["validDomains"] == ["ftbot.contoso.com"]
    uuid.UUID(data["id"])
    # files in channels and group chats: Graph with resource-specific consent, app-only
    assert data["webApplicationInfo"]["id"] == BOT_ID
    assert data["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"},
        {"name": "File.Read.Group", "type": "Application"},
        {"name": "ChatMessage.Read.Chat", "type": "Application"},
    ]
    # Korean: names, descriptions and the command menu, whose titles the bot understands
    assert data["localizationInfo"] == {
        "defaultLanguageTag": "en-us",
        "additionalLanguages": [{"languageTag": "ko-kr", "file": "ko-kr.json"}],
    }
    korean = json.loads(files["ko-kr.json"])
    assert korean["name.short"] == "FineTune Ops" and "미세 조정" in korean["description.short"]
    titles = [
        v
        for k, v in korean.items()
        if k.startswith("bots[0].commandLists[0].") and k.endswith(".title")
    ]
    assert "/도움말" in titles and "/검증" in titles and "/종료" in titles
    # each one a Korean command word with its slash, which works in a chat session too
    router = build_router()
    assert [t for t in titles if not t.startswith("/") or router.find(t[1:]) is None] == []
    del files["ko-kr.json"]
    assert check_package(files) == ["the localization file 'ko-kr.json' is missing or unreadable"]


@pytest.mark.slow  # runs `ftbot package`
def test_without_an_app_id_the_package_is_refused_in_one_sentence(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MicrosoftAppId"}
    done = subprocess.run(
        [sys.executable, "cli.py", "package", "--out", str(tmp_path / "p.zip")],
        cwd=ROOT,
        env={**env, "FTBOT_PUBLIC_HOST": "ftbot.contoso.com"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr
        == "ftbot: Set MicrosoftAppId (the Azure Bot's app id) to build the Teams package.\n"
    )
    assert not (tmp_path / "p.zip").exists()


def test_the_menu_is_the_command_table_s_and_help_lists_it() -> None:
    router = build_router()
    data = manifest(router, BOT_ID, "ftbot.contoso.com")
    menus = data["bots"][0]["commandLists"]
    assert [m["scopes"] for m in menus] == [["personal"], ["team"], ["groupChat"]]
    titles = [c["title"] for c in menus[0]["commands"]]
    assert 0 < len(titles) <= MAX_MENU
    assert titles == [c.name for c in router.commands if c.menu]
    listed = {entry.name for entry in router.listing()}
    assert set(titles) <= listed  # the menu offers only commands `help` lists


def test_the_readme_lists_every_command_of_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [e.name for e in build_router().listing() if f"`{e.name}" not in readme]
    assert missing == []


def test_the_rules_the_schema_does_not_check_are_checked() -> None:
    router = build_router()
    good = {
        "manifest.json": json.dumps(manifest(router, BOT_ID, "h.example")).encode(),
        "ko-kr.json": json.dumps(localization(router, "ko")).encode(),
        **icons(),
    }
    assert check_package(good) == []
    data = json.loads(good["manifest.json"])
    data["id"], data["version"] = "not-a-guid", "1.0"
    data["bots"][0]["commandLists"][0]["commands"] *= 2
    big = io.BytesIO()
    Image.new("RGBA", (32, 32), (255, 0, 0, 255)).save(big, format="PNG")
    bad = {**good, "manifest.json": json.dumps(data).encode(), "outline.png": big.getvalue()}
    problems = check_package(bad)
    assert "manifest id is not a GUID" in problems
    assert "manifest version is not semver (major.minor.patch)" in problems
    assert f"more than {MAX_MENU} commands for ['personal']" in problems
    assert "the outline icon needs a transparent background" in problems
    assert "the outline icon must be white on transparent" in problems
    small = io.BytesIO()
    Image.new("RGBA", (100, 100)).save(small, format="PNG")
    assert "the color icon must be a 192x192 PNG" in check_package(
        {**good, "color.png": small.getvalue()}
    )
    del data["bots"][0]["botId"]
    assert any(
        "botId" in p for p in check_package({**good, "manifest.json": json.dumps(data).encode()})
    )
