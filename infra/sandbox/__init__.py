"""The Azure sandbox: an offline stand-in for the Azure OpenAI and Resource Manager surfaces.

Like Azurite for Storage: the official SDKs talk to it unchanged except for endpoint and
credential. See docs/sandbox.md.
"""

from infra.sandbox.app import create_sandbox_app
from infra.sandbox.faults import parse_faults
from infra.sandbox.service import SANDBOX, Sandbox, SandboxConfig

__all__ = ["SANDBOX", "Sandbox", "SandboxConfig", "create_sandbox_app", "parse_faults"]
