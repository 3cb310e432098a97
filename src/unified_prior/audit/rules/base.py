"""The rule contract: a code, a severity, a one-line summary, and ``check(facts)``."""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from unified_prior.audit.finding import Finding, Severity
from unified_prior.audit.script import ScriptFacts


class Rule(ABC):
    """One static check. Subclasses set the class attributes and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, for SARIF ``rules[].name``
    severity: ClassVar[Severity]
    summary: ClassVar[str]  # DESIGN §7 one-liner

    @abstractmethod
    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        """Yield the findings of this rule for one parsed script."""

    def finding(
        self,
        facts: ScriptFacts,
        node: ast.AST,
        message: str,
        fix: str,
        related: tuple[ast.AST | None, ...] = (),
    ) -> Finding:
        line, col = facts.pos(node)
        return Finding(
            # A claim declared in a YAML/JSON/TOML file is reported at its line there.
            path=getattr(node, "audit_path", facts.path),
            line=line,
            col=col,
            code=self.code,
            severity=self.severity,
            message=message,
            fix=fix,
            related=facts.related(*related),
        )

    @property
    def description(self) -> str:
        """The class docstring: what the rule finds, why, and its severity choice."""
        return " ".join((type(self).__doc__ or self.summary).split())
