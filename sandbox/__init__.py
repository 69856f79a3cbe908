"""The Azure sandbox: an offline stand-in for the Azure OpenAI and Resource Manager surfaces.

Like Azurite for Storage, a product of its own: the official SDKs talk to it unchanged except for
endpoint and credential, and it imports nothing of the bot. `sandbox.app.create_sandbox_app` is
the aiohttp app (standalone or mounted), `sandbox.serve` runs it alone (`ftbot sandbox`), and
`sandbox.contract` names what a client must agree on with it. See docs/sandbox.md.

This module stays light (the `ftbot` command imports it to catch `SandboxError`).
"""


class SandboxError(Exception):
    """The sandbox cannot start: a bad setting, or a data folder that is busy or damaged. Its
    message is one sentence for the operator."""
