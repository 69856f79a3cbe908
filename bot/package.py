"""The Teams app package: `manifest.json` generated from the command table, two icons, one zip.

`build_package` writes `appPackage.zip` (manifest and icons at its root) with the bot's app id and
public host filled in, after `check_package` found nothing wrong: the official manifest schema
(1.29, a copy in bot/teams_schema/ with its licence, installed with the package) and the rules the
schema leaves to the Teams documentation (icon sizes and transparency, at most 10 commands per
scope, a GUID id, a semver version). The command menu of each scope lists the commands the table
marks `menu=True`. The manifest is English; a localization file per other language (`ko-kr.json`,
Teams' localization schema) carries its names, descriptions and command menu, from the catalogs.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from importlib.metadata import version as installed_version
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
from PIL import Image, ImageDraw

from bot.router import Router
from infra import i18n
from infra.errors import UserError
from infra.i18n import N_, _

SCHEMAS = files("bot") / "teams_schema"
"""The Teams schemas, package data of bot/ (pyproject.toml), so `ftbot package` runs from any
install, not only from a checkout."""
SCHEMA = SCHEMAS / "MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA = SCHEMAS / "MicrosoftTeams.Localization.schema.json"
MANIFEST_VERSION = "1.29"
SCOPES = ("personal", "team", "groupChat")
MAX_MENU = 10
"""Teams shows at most 10 commands per scope."""
COLOR = (0, 120, 212)  # Azure blue, the accent colour too
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_APP_NAMESPACE = uuid.UUID("5f1d3c9e-52b5-4c8e-9a57-8f6d3b0d2a11")
RSC_PERMISSIONS = (
    "ChannelMessage.Read.Group",  # read the channel message that names files (team scope)
    "File.Read.Group",  # download those files from the team's SharePoint site
    "ChatMessage.Read.Chat",  # read the group-chat message that names files
)
"""Resource-specific consent: granted by a team owner or chat member when the app is installed
there, only for that team or chat (docs/security.md says why each, and what RSC cannot give)."""


def teams_app_id(bot_id: str) -> str:
    """The Teams app's own id: a GUID derived from the bot's, stable across builds."""
    return str(uuid.uuid5(_APP_NAMESPACE, bot_id))


NAME_FULL = N_("FineTune Ops: fine-tune Azure OpenAI models")
DESCRIPTION_SHORT = N_("From a JSONL file to a deployed, fine-tuned Azure OpenAI model.")
DESCRIPTION_FULL = N_(
    "Validate a chat-format JSONL dataset, launch fine-tuning of gpt-4o-mini on Azure OpenAI, "
    "follow it on a live card, get told when it is done, deploy the model and chat with it, "
    "all without leaving the team's chat."
)
DEFAULT_LANGUAGE_TAG = "en-us"
LANGUAGE_TAGS = {"ko": "ko-kr"}
"""The package's other languages (infra.i18n.LANGUAGES but English) and their Teams tags."""


def menu(router: Router) -> list[dict[str, str]]:
    """The command menu in the current language: the table's menu commands, their usage as the
    description. A Korean title is the Korean command word with its `/`: Teams puts the title in
    the compose box and the user may add words, and in a chat session only the `/` keeps a
    Korean command with words after it from going to the model (bot/router.py)."""
    english = i18n.current() == i18n.SOURCE
    entries = []
    for command in router.commands:
        if command.menu:
            usage = _(command.usage)
            title = command.name if english or not command.korean else f"/{command.korean[0]}"
            description = _("{help} Usage: {usage}", help=_(command.help), usage=usage)
            entries.append({"title": title, "description": description[:128]})
    return entries


def localization(router: Router, language: str) -> dict[str, Any]:
    """The localization file of `language` (Teams' localization schema): names, descriptions
    and the command menu, from the catalogs."""
    with i18n.use(language):
        found: dict[str, Any] = {
            "$schema": "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/"
            "MicrosoftTeams.Localization.schema.json",
            "name.short": "FineTune Ops",
            "name.full": _(NAME_FULL),
            "description.short": _(DESCRIPTION_SHORT),
            "description.full": _(DESCRIPTION_FULL),
        }
        for j, entry in enumerate(menu(router)):
            for i in range(len(SCOPES)):
                found[f"bots[0].commandLists[{i}].commands[{j}].title"] = entry["title"]
                found[f"bots[0].commandLists[{i}].commands[{j}].description"] = entry["description"]
    return found


def _file_of(language: str) -> str:
    return f"{LANGUAGE_TAGS[language]}.json"


def manifest(router: Router, bot_id: str, host: str) -> dict[str, Any]:
    """The app manifest for the bot `bot_id` served at `https://{host}`, in English (the
    localization files carry the other languages)."""
    with i18n.use(i18n.SOURCE):
        return _manifest(router, bot_id, host)


def _manifest(router: Router, bot_id: str, host: str) -> dict[str, Any]:
    commands = menu(router)
    return {
        "$schema": "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/"
        "MicrosoftTeams.schema.json",
        "manifestVersion": MANIFEST_VERSION,
        "version": installed_version("finetune-ops"),
        "id": teams_app_id(bot_id),
        "developer": {
            "name": "FineTune Ops",
            "websiteUrl": f"https://{host}",
            "privacyUrl": f"https://{host}/privacy",
            "termsOfUseUrl": f"https://{host}/terms",
        },
        "name": {"short": "FineTune Ops", "full": _(NAME_FULL)},
        "description": {"short": _(DESCRIPTION_SHORT), "full": _(DESCRIPTION_FULL)},
        "localizationInfo": {
            "defaultLanguageTag": DEFAULT_LANGUAGE_TAG,
            "additionalLanguages": [
                {"languageTag": tag, "file": _file_of(language)}
                for language, tag in LANGUAGE_TAGS.items()
            ],
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*COLOR),
        "bots": [
            {
                "botId": bot_id,
                "scopes": list(SCOPES),
                "supportsFiles": True,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": [scope], "commands": commands} for scope in SCOPES],
            }
        ],
        "validDomains": [host],
        "webApplicationInfo": {"id": bot_id, "resource": f"api://{host}/{bot_id}"},
        "authorization": {
            "permissions": {
                "resourceSpecific": [
                    {"name": name, "type": "Application"} for name in RSC_PERMISSIONS
                ]
            }
        },
    }


def icons() -> dict[str, bytes]:
    """The two icons, drawn: a colour tile with three tuning sliders, and its white outline."""
    color = Image.new("RGBA", (192, 192), COLOR + (255,))
    _sliders(ImageDraw.Draw(color), 192, (255, 255, 255, 255))
    outline = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    _sliders(ImageDraw.Draw(outline), 32, (255, 255, 255, 255))
    return {COLOR_ICON: _png(color), OUTLINE_ICON: _png(outline)}


def _sliders(draw: ImageDraw.ImageDraw, size: int, ink: tuple[int, int, int, int]) -> None:
    """Three vertical tracks, each with a knob at another height (a mixing desk's sliders)."""
    unit = size / 8
    for n, knob in enumerate((0.35, 0.65, 0.45)):
        x = unit * (2 + 2 * n)
        draw.line([(x, unit * 1.5), (x, size - unit * 1.5)], fill=ink, width=max(1, size // 48))
        y = unit * 1.5 + (size - 3 * unit) * knob
        r = unit * 0.6
        draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=ink)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def check_package(files: dict[str, bytes]) -> list[str]:
    """What is wrong with a package's files (manifest.json and icons), one sentence each."""
    problems: list[str] = []
    try:
        data = json.loads(files["manifest.json"])
    except (KeyError, ValueError):
        return ["the package has no readable manifest.json"]
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    problems += [
        f"manifest {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(data)
    ]
    try:
        uuid.UUID(str(data.get("id")))
    except ValueError:
        problems.append("manifest id is not a GUID")
    if not _SEMVER.match(str(data.get("version"))):
        problems.append("manifest version is not semver (major.minor.patch)")
    for bot in data.get("bots") or []:
        for entry in bot.get("commandLists") or []:
            if len(entry.get("commands") or []) > MAX_MENU:
                problems.append(f"more than {MAX_MENU} commands for {entry.get('scopes')}")
    problems += _icon_problems(files, data.get("icons") or {})
    problems += _localization_problems(files, data)
    return problems


def _localization_problems(files: dict[str, bytes], data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    schema = json.loads(LOCALIZATION_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    for language in (data.get("localizationInfo") or {}).get("additionalLanguages") or []:
        name = str(language.get("file"))
        try:
            localized = json.loads(files[name])
        except (KeyError, ValueError):
            problems.append(f"the localization file {name!r} is missing or unreadable")
            continue
        problems += [
            f"{name} {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(localized)
        ]
    return problems


def _icon_problems(files: dict[str, bytes], named: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for kind, size in (("color", 192), ("outline", 32)):
        name = named.get(kind, "")
        if name not in files:
            problems.append(f"the {kind} icon {name!r} is not in the package")
            continue
        image = Image.open(io.BytesIO(files[name]))
        if image.format != "PNG" or image.size != (size, size):
            problems.append(f"the {kind} icon must be a {size}x{size} PNG")
            continue
        if kind == "outline":
            raw = image.convert("RGBA").tobytes()
            pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
            if not any(a == 0 for *_, a in pixels):
                problems.append("the outline icon needs a transparent background")
            if any(a and (r, g, b) != (255, 255, 255) for r, g, b, a in pixels):
                problems.append("the outline icon must be white on transparent")
    return problems


def package_files(router: Router, bot_id: str, host: str) -> dict[str, bytes]:
    """The files of the package, checked; UserError naming what is missing or wrong."""
    if not bot_id:
        raise UserError("Set MicrosoftAppId (the Azure Bot's app id) to build the Teams package.")
    if not host or "/" in host or ":" in host:
        raise UserError(
            "Set FTBOT_PUBLIC_HOST to the bot's public host name (like bot.contoso.com) to build "
            "the Teams package."
        )
    files = {"manifest.json": json.dumps(manifest(router, bot_id, host), indent=2).encode()}
    for language in LANGUAGE_TAGS:
        content = json.dumps(localization(router, language), indent=2, ensure_ascii=False)
        files[_file_of(language)] = content.encode()
    files.update(icons())
    problems = check_package(files)
    if problems:
        raise UserError("The Teams package is not valid: {problems}.", problems="; ".join(problems))
    return files


def build_package(router: Router, bot_id: str, host: str, out: Path) -> Path:
    """Write the checked package zip to `out`."""
    files = package_files(router, bot_id, host)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out


def read_package(path: Path) -> dict[str, bytes]:
    """The files at the root of a package zip."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
