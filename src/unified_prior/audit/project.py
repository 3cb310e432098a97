"""Stage 2: a folder audited as one project.

Each file is read and parsed once (:mod:`unified_prior.audit.parse`); the project knows its
modules by dotted name, so a file's ``from sched import build_scheduler`` (or a relative
``from .sched import ...``) reaches the function defined in ``sched.py``: a scheduler built
by a factory in one module and stepped in another is recognised as one. YAML/JSON/TOML claims
are read per script (:mod:`unified_prior.audit.claims.files`), relative to the script's folder
and the project root.
"""

from __future__ import annotations

import ast
from collections import OrderedDict
from collections.abc import Collection, Iterable
from pathlib import Path

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.helpers import helper_save
from unified_prior.audit.model.tree import dotted
from unified_prior.audit.model.wrappers import (
    IdleWrapper,
    SchedulerWrapper,
    idle_wrapper,
    scheduler_wrapper,
)
from unified_prior.audit.parse import parse_source, read_source, too_deep
from unified_prior.audit.script import ScriptFacts


class Project:
    """The Python files of one audited folder (or one file), with cross-file lookups.

    Files are read up front (a file that cannot be read is one ``E902``) but parsed and
    modelled one at a time, and only a few models are kept: a whole repository (the torch
    package: 2,000 files) audits in bounded memory. A file another one imports from is
    parsed again when asked about, which costs little next to keeping every tree."""

    #: Models kept at once (the file being audited and the modules it asks about).
    KEEP = 8

    def __init__(self, root: Path | None, files: Iterable[Path]) -> None:
        self.root = root
        self.problems: list[Finding] = []
        self.sources: dict[str, str] = {}
        self.modules: dict[str, list[str]] = {}
        self._facts: OrderedDict[str, ScriptFacts | Finding] = OrderedDict()
        self._active: set[str] = set()
        self._factories: dict[str, tuple[str, str] | None] = {}
        self._helpers: dict[str, tuple[ScriptFacts, ast.Call] | None] = {}
        self._wrappers: dict[str, IdleWrapper | None] = {}
        self._held: dict[str, SchedulerWrapper | None] = {}
        for file in files:
            text = read_source(file)
            if isinstance(text, Finding):
                self.problems.append(text)
                continue
            self.sources[str(file)] = text
            for name in self._module_names(file):
                self.modules.setdefault(name, []).append(str(file))

    def _module_names(self, file: Path) -> list[str]:
        """``pkg/sub/mod.py`` answers to ``pkg.sub.mod``, ``sub.mod`` and ``mod`` (scripts
        often put their own folder on ``sys.path``)."""
        try:
            rel = file.relative_to(self.root) if self.root is not None else Path(file.name)
        except ValueError:
            rel = Path(file.name)
        parts = list(rel.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        return [".".join(parts[i:]) for i in range(len(parts)) if parts[i:]]

    def facts(self, path: str) -> ScriptFacts | Finding:
        """The model of one file of the project, or the E999/E998 finding for it."""
        if path in self._facts:
            self._facts.move_to_end(path)
            return self._facts[path]
        parsed = parse_source(self.sources[path], path)
        result: ScriptFacts | Finding
        if isinstance(parsed, Finding):
            result = parsed
        else:
            result = ScriptFacts(parsed.path, parsed.source, parsed.tree)
            result.project_root = self.root
            result.project = self
        self._facts[path] = result
        while len(self._facts) > self.KEEP:
            self._facts.popitem(last=False)
        return result

    def definition(self, qualified: str) -> tuple[ScriptFacts, ast.AST] | None:
        """The top-level function or class a dotted import name denotes in this project."""
        module, _, name = qualified.rpartition(".")
        paths = self.modules.get(module, [])
        if len(paths) != 1 or not name:
            return None
        facts = self.facts(paths[0])
        if isinstance(facts, Finding):
            return None
        for stmt in facts.tree.body:
            defines = isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            if defines and getattr(stmt, "name", None) == name:
                return facts, stmt
        return None

    def class_may_read(self, qualified: str, attr: str) -> bool:
        """Whether the project class ``qualified`` (a base of an audited class) may read
        ``self.<attr>``: it names the attribute (as ``self.attr`` or a string), hands bare
        ``self`` to other code, or has such a base itself. True when it is not a class of
        this project or cannot be read."""
        key = f"class_may_read:{qualified}"
        if key in self._active:
            return True  # a cycle of bases
        found = self.definition(qualified)
        if found is None:
            return True
        facts, cls = found
        if not isinstance(cls, ast.ClassDef):
            return True
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and node.attr == attr:
                return True
            if isinstance(node, ast.Constant) and node.value == attr:
                return True
            if isinstance(node, ast.Name) and node.id == "self":
                parent = facts.parents.get(node)
                if isinstance(parent, ast.Attribute) and parent.value is node:
                    continue
                if isinstance(parent, ast.Call) and dotted(parent.func) in {"isinstance", "type"}:
                    continue  # an inspection reads no attribute
                return True
        self._active.add(key)
        try:
            return facts._base_may_read(cls, attr)
        except (RecursionError, MemoryError):
            return True
        finally:
            self._active.discard(key)

    def scheduler_factory(self, qualified: str) -> tuple[str, str] | None:
        """(class, family) when ``qualified`` is a project function that returns an LR
        scheduler it builds, or a project class deriving from torch's ``LRScheduler``."""
        if qualified in self._factories:
            return self._factories[qualified]
        if qualified in self._active:
            return None  # a cycle of factories calling each other
        self._active.add(qualified)
        try:
            found = self.definition(qualified)
            if found is None:
                self._factories[qualified] = None
                return None
            facts, node = found
            if isinstance(node, ast.ClassDef):
                answer = (node.name, "torch") if facts.subclasses_scheduler(node) else None
            else:
                answer = facts.returned_scheduler(node)
        except (RecursionError, MemoryError):
            answer = None
        finally:
            self._active.discard(qualified)
        self._factories[qualified] = answer
        return answer

    def checkpoint_helper(self, qualified: str) -> tuple[ScriptFacts, ast.Call] | None:
        """The ``torch.save`` inside the project function ``qualified`` (see
        :func:`~unified_prior.audit.model.helpers.helper_save`)."""
        if qualified not in self._helpers:
            try:
                self._helpers[qualified] = helper_save(self, qualified)
            except (RecursionError, MemoryError):
                self._helpers[qualified] = None
        return self._helpers[qualified]

    def idle_wrapper(self, qualified: str) -> IdleWrapper | None:
        """The scheduler-holding wrapper the project function ``qualified`` returns, when
        nothing ever steps its schedulers (see :mod:`unified_prior.audit.model.wrappers`)."""
        if qualified not in self._wrappers:
            try:
                self._wrappers[qualified] = idle_wrapper(self, qualified)
            except (RecursionError, MemoryError):
                self._wrappers[qualified] = None
        return self._wrappers[qualified]

    def scheduler_wrapper(self, qualified: str) -> SchedulerWrapper | None:
        """The project class ``qualified`` when it builds and steps LR schedulers of its own
        (see :mod:`unified_prior.audit.model.wrappers`)."""
        if qualified not in self._held:
            try:
                self._held[qualified] = scheduler_wrapper(self, qualified)
            except (RecursionError, MemoryError):
                self._held[qualified] = None
        return self._held[qualified]

    def audit(
        self, select: Collection[str] | None, ignore: Collection[str] | None
    ) -> list[Finding]:
        """Every rule on every file; a file too deep to analyse is one ``E998`` finding."""
        from unified_prior.audit.engine import run_rules

        findings = list(self.problems)
        for path in self.sources:
            try:
                facts = self.facts(path)
                if isinstance(facts, Finding):
                    findings.append(facts)
                    continue
                findings.extend(run_rules(facts, select=select, ignore=ignore))
            except (RecursionError, MemoryError):
                findings.append(too_deep(path))
        return findings
