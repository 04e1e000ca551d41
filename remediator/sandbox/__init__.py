"""The sandbox: a local, stateful Fortnox with the same API subset, OAuth and failures."""

from remediator.sandbox.app import Sandbox, SandboxTransport
from remediator.sandbox.state import SandboxState, SandboxStateError, load_scenario, scenario_names

__all__ = [
    "Sandbox",
    "SandboxState",
    "SandboxStateError",
    "SandboxTransport",
    "load_scenario",
    "scenario_names",
]
