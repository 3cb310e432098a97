"""CFG001: a config key is declared and never read."""

from __future__ import annotations

from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


@register
class KeyNeverRead(Rule):
    """A key of a config dict, an argparse option or a config dataclass field that nothing
    in the script reads (no subscript, ``.get``, attribute or string mention): setting it
    changes nothing. Severity *warning*. Skipped when the whole config reaches code we cannot
    see (passed to an imported function, splatted with ``**``, iterated), since that code may
    read it.
    """

    code = "CFG001"
    name = "config-key-never-read"
    severity = "warning"
    summary = "config key declared, never read"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        for key in facts.config_keys:
            if key.escaped or key.reads or key.source == "param":
                continue
            message = f"config declares {key.claim}, but nothing in this script reads it"
            fix = f"apply {key.key} where it belongs, or delete it so the config cannot lie"
            yield self.finding(facts, key.node, message, fix)
