"""SEC001: ``torch.load`` without ``weights_only=True``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


@register
class UnsafeTorchLoad(Rule):
    """``torch.load`` unpickles arbitrary objects unless ``weights_only=True``: loading a
    checkpoint from elsewhere can run code. Severity *warning* (a hazard, not a wrong run).
    Torch ≥ 2.6 defaults to True, but scripts outlive versions: say it explicitly.
    """

    code = "SEC001"
    name = "unsafe-torch-load"
    severity = "warning"
    summary = "torch.load without weights_only=True"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        for call in facts.calls:
            if facts.qualified(call) != "torch.load":
                continue
            flag = next((k.value for k in call.keywords if k.arg == "weights_only"), None)
            if isinstance(flag, ast.Constant) and flag.value is True:
                continue
            if any(k.arg is None for k in call.keywords):
                continue  # **kwargs may carry it
            if flag is None:
                what = "without weights_only"
            elif isinstance(flag, ast.Constant):
                what = "with weights_only=False"
            else:
                continue  # a variable: the caller decides
            message = (
                f"torch.load {what} unpickles arbitrary objects and can run code from the file"
            )
            fix = "pass weights_only=True (save tensors and plain containers only)"
            yield self.finding(facts, call, message, fix)
