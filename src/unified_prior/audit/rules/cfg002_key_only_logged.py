"""CFG002: a config key is read only by logging or printing."""

from __future__ import annotations

from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.rules.claims import DESCRIPTIVE
from unified_prior.audit.script import ScriptFacts


@register
class KeyOnlyLogged(Rule):
    """Every read of the key ends in ``print``, a logger, an f-string, ``wandb``/TensorBoard
    or a saved copy of the config, so the run *reports* a setting it never applies (the
    original script printed "effective batch size" from an accumulation key it ignored).
    Severity *warning*. Descriptive keys (run name, project, tags, ...) are exempt: logging
    them is their purpose.
    """

    code = "CFG002"
    name = "config-key-only-logged"
    severity = "warning"
    summary = "config key read only by logging/printing"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        for key in facts.config_keys:
            if key.escaped or not key.reads or key.applied or key.source == "param":
                continue
            if DESCRIPTIVE.search(key.key):
                continue
            shown = [r.node for r in key.reads if r.kind in {"log", "stored"}][:3]
            where = ", ".join("{}:{}".format(*facts.pos(n)) for n in shown)
            if shown:
                what = f"it is only logged, printed or saved ({where})"
            else:
                what = "it is only copied into names that are never used"
            message = (
                f"config declares {key.claim}, but {what}: the run reports it, never applies it"
            )
            fix = f"apply {key.key} in the code it configures, or remove it from the config"
            yield self.finding(facts, key.node, message, fix, related=tuple(shown))
