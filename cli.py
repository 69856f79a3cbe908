"""`ftbot`: the shell front end: run the bot, validate and sample datasets, run the sandbox,
build the Teams package, check a configuration (doctor)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from infra.errors import UserError
from infra.prices import DEFAULT_MODEL
from sandbox import SandboxError

Handler = Callable[[argparse.Namespace], int]


def _run(args: argparse.Namespace) -> int:
    import app

    return app.main()


def _validate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from skills.validation import estimated_price, validate_file
    from skills.validation_text import report_text

    reports = [validate_file(Path(f), model=args.model, epochs=args.epochs) for f in args.files]
    if args.json:
        data = [r.to_json() for r in reports]
        print(json.dumps(data if len(data) > 1 else data[0], indent=2))
    else:
        from infra.settings import load_settings  # pydantic is slow to import: only here

        prices = load_settings().training_prices
        print("\n\n".join(report_text(r, estimated_price(r, prices)) for r in reports))
    return 0 if all(r.ok for r in reports) else 1


def _sample(args: argparse.Namespace) -> int:
    from pathlib import Path

    from skills.sample import write_sample

    for path in write_sample(Path(args.directory)):
        print(path)
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from infra.settings import load_settings
    from sandbox.serve import serve

    settings = load_settings()
    return serve(
        settings.data_dir / "sandbox",
        args.host,
        args.port,
        speedup=settings.sandbox_speedup,
        faults=settings.sandbox_faults,
        arm_token=settings.sandbox_arm_token.get_secret_value(),
        cost_delay_hours=settings.cost_delay_hours,
    )


def _post_file(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from infra.settings import load_settings
    from sandbox.post_file import Request, post_file

    settings = load_settings()
    secret = settings.sandbox_arm_token.get_secret_value()
    if not settings.sandbox_mode:
        raise SandboxError("the bot's settings name Azure, not a sandbox: post-file needs one")
    if not secret:
        raise SandboxError(
            "set SANDBOX_ARM_TOKEN, the same for the bot and this command (in .env): the "
            "embedded sandbox otherwise makes up a new secret at each start"
        )
    request = Request(
        [Path(name) for name in args.files],
        args.playground,
        team=args.team,
        channel=args.channel,
        chat="" if args.chat else None,
        reply_to=args.reply_to,
        text=args.text,
        consent=not args.no_consent,
        within=args.wait,
    )

    async def show() -> None:
        async for line in post_file(request, settings.sandbox_root, secret):
            print(line, flush=True)

    asyncio.run(show())
    return 0


def _package(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.commands import build_router
    from bot.package import build_package
    from infra.settings import PackageSettings

    settings = PackageSettings()  # only MicrosoftAppId and FTBOT_PUBLIC_HOST
    out = build_package(build_router(), settings.app_id, settings.public_host, Path(args.out))
    print(f"{out} (Teams app for bot {settings.app_id} at https://{settings.public_host})")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from app import SANDBOX_IDS, doctor
    from infra.settings import load_settings

    try:
        settings = load_settings(SANDBOX_IDS)
    except UserError as error:  # nothing else can be checked with settings that do not load
        print(f"✗ Settings: {error.message}", flush=True)
        return 1

    logging.basicConfig(level=logging.CRITICAL)  # the SDKs' retries and refusals: the lines say it

    async def run() -> bool:
        passed = True
        async for check in doctor(settings):
            print(check.line(), flush=True)
            passed = passed and check.status != "failed"
        return passed

    return 0 if asyncio.run(run()) else 1


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of epochs, got {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command per front end of a skill."""
    parser = argparse.ArgumentParser(prog="ftbot", description="FineTune Ops bot and tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="start the bot (HOST, PORT, FTBOT_DATA_DIR apply)")
    run.set_defaults(handler=_run)
    validate = commands.add_parser("validate", help="check JSONL training files (exit 1 if not ok)")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--model", default=DEFAULT_MODEL, help="base model")
    validate.add_argument("--epochs", type=_positive, help="epochs for the billing estimate")
    validate.add_argument("--json", action="store_true", help="print the report(s) as JSON")
    validate.set_defaults(handler=_validate)
    sample = commands.add_parser("sample", help="write the sample training and validation files")
    sample.add_argument("directory", metavar="DIR")
    sample.set_defaults(handler=_sample)
    sandbox = commands.add_parser(
        "sandbox", help="run the Azure sandbox alone (FTBOT_DATA_DIR, SANDBOX_* apply)"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind")
    sandbox.add_argument("--port", type=int, default=8089, help="port to listen on")
    sandbox.set_defaults(handler=_sandbox)
    tools = sandbox.add_subparsers(dest="tool", metavar="TOOL")
    post = tools.add_parser(
        "post-file",
        help="put files in a channel (or group chat) of a running Agents Playground through the "
        "sandbox's Graph, as a person in Teams does, and print the bot's answer",
    )
    post.add_argument("files", nargs="+", metavar="FILE", help="one or two JSONL files")
    post.add_argument(
        "--playground", default="http://127.0.0.1:56150", help="the Agents Playground's address"
    )
    post.add_argument("--team", default="", help="its team, by id or name (default: the first)")
    post.add_argument(
        "--channel", default="", help="the team's channel, by id or name (default: the first)"
    )
    post.add_argument("--chat", action="store_true", help="in its group chat instead of a channel")
    post.add_argument(
        "--reply-to",
        default="",
        metavar="ID",
        help="a reply in the thread of this message (one posted in the Playground)",
    )
    post.add_argument("--text", default="validate", help="what the message says after @bot")
    post.add_argument(
        "--no-consent",
        action="store_true",
        help="as if the owner had not granted the app's resource-specific permissions there",
    )
    post.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the bot's answer"
    )
    post.set_defaults(handler=_post_file)
    package = commands.add_parser(
        "package", help="build the Teams app package (MicrosoftAppId, FTBOT_PUBLIC_HOST apply)"
    )
    package.add_argument("--out", default="build/appPackage.zip", help="the zip to write")
    package.set_defaults(handler=_package)
    doctor = commands.add_parser(
        "doctor", help="check this configuration for real, one line per check (exit 1 on a ✗)"
    )
    doctor.set_defaults(handler=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen sub-command; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as error:
        print(f"ftbot: {error.message}", file=sys.stderr)
        return 2
    except SandboxError as error:  # the sandbox's own: a bad SANDBOX_* setting, a busy folder
        print(f"ftbot: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ftbot validate --json ... | head`: the reader left, that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
