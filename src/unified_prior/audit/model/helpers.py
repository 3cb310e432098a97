"""Checkpoint helpers in another module of the audited project.

VITS-style training scripts never call ``torch.save`` themselves: they call
``utils.save_checkpoint(net, optim, lr, epoch, path)``, whose body writes a dict literal.
That helper's ``torch.save`` is the checkpoint the script writes, and its keys are the
checkpoint's keys; a rule judging the script's checkpoints needs both the call site (what the
script can see: its schedulers) and the save inside the helper (what is written).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unified_prior.audit.project import Project
    from unified_prior.audit.script import ScriptFacts


def helper_save(project: Project, qualified: str) -> tuple[ScriptFacts, ast.Call] | None:
    """The one ``torch.save`` call in the project function ``qualified`` (imported from
    another module), with the model of the file it is in; None when ``qualified`` is not a
    project function or it saves zero or several times (which one a call writes is then
    unknown)."""
    found = project.definition(qualified)
    if found is None:
        return None
    facts, node = found
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    saves = [
        n
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and facts.qualified(n) == "torch.save" and n.args
    ]
    if len(saves) != 1 or facts.scope_of(saves[0]) is not node:
        return None  # a save in a nested function runs only if that function is called
    return facts, saves[0]
