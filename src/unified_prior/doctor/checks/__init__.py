"""Checks, one finding family per module; importing this package registers them all, in
import order (reports sort findings by severity, then code)."""

from unified_prior.doctor.checks import checkpoints, counterfactual, inferred, loss, lr
from unified_prior.doctor.checks.base import CHECKS, Check, Context, RegisteredCheck, register

__all__ = [
    "CHECKS",
    "Check",
    "Context",
    "RegisteredCheck",
    "checkpoints",
    "counterfactual",
    "inferred",
    "loss",
    "lr",
    "register",
    "run_checks",
]


def run_checks(ctx: Context) -> list:
    """Every registered check's findings, in registration order."""
    found = []
    for check in CHECKS:
        found.extend(check.run(ctx))
    return found
