"""The network names ``galaxyscope train --arch`` accepts, without importing torch.

Why a copy of the registry's keys: ``galaxyscope --help`` builds every command's
parser, and ``model.networks`` (the registry) imports torch, which costs seconds.
tests/test_cli_startup.py checks that this tuple equals
``model.networks.available_networks()``.
"""

from __future__ import annotations

NETWORK_NAMES: tuple[str, ...] = ("evidence", "resnet", "small")  # sorted, as available_networks()
DEFAULT_NETWORK = "small"
