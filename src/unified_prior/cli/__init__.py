"""The ``uprior`` command line: parse, call a library function, print.

Each command group lives in its own module with a ``register(app)`` function; heavy imports
(torch, matplotlib, tensorboard) happen inside the commands so ``uprior --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from unified_prior.errors import InputError

app = typer.Typer(
    name="uprior",
    help="Train a unified diffusion prior whose configuration is the truth; diagnose runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """uprior: a trainer whose configuration is the truth, and a doctor for any run."""


#: Command modules under ``unified_prior.cli``, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "demo", "train", "evaluate", "sample", "restore", "schedule", "data", "doctor", "audit",
)  # fmt: skip

for _name in COMMAND_MODULES:
    importlib.import_module(f"unified_prior.cli.{_name}").register(app)


def main() -> None:
    """Console entry point: ``InputError`` becomes one line on stderr and exit code 2."""
    try:
        app()
    except InputError as err:
        # Under torchrun every rank fails alike; one copy of the message is enough.
        if os.environ.get("RANK", "0") == "0":
            print(f"uprior: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
