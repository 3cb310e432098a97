"""CKP001: a checkpoint saves the optimizer but omits a stateful scheduler's state."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.objects import SchedulerInfo
from unified_prior.audit.model.tree import const_str
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts

#: Checkpoint keys that carry the training position a resume continues from.
POSITION_KEYS = frozenset({"epoch", "step", "global_step", "iteration", "iter", "start_epoch"})


def _is_none(node: ast.AST) -> bool:
    """``"optimizer": None``: the key is kept, the state is not."""
    return isinstance(node, ast.Constant) and node.value is None


@register
class CheckpointOmitsScheduler(Rule):
    """``torch.save`` writes a resume checkpoint (it holds the optimizer state, or a position
    such as ``"epoch"`` that the script reads back on resume) but not the
    state of a scheduler this script steps: a resume rebuilds the scheduler at step 0 and
    restarts warmup and decay. Severity *warning*: the run itself is fine, its resume is not.

    Judged only for payloads written literally (a dict literal, or a name bound to one and
    filled with ``ckpt["k"] = ...``) in a function that can see the scheduler, or by a call of
    a project helper in another module whose one ``torch.save`` writes such a dict (VITS's
    ``utils.save_checkpoint``: its keys are the checkpoint's, a scheduler reaches it only as
    an argument of the call); nanoGPT-style
    loops without a scheduler object have no state to save and stay silent.

    Also reported: schedulers a project wrapper class of another module builds and keeps
    (nerfstudio's ``Optimizers``), stepped by this file through the wrapper's method, when
    this file's checkpoint dict saves optimizer state but nothing of the wrapper's schedulers.
    """

    code = "CKP001"
    name = "checkpoint-omits-scheduler"
    severity = "warning"
    summary = "checkpoint omits scheduler state of a stateful scheduler"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        reported: set[int] = set()
        for finding in self._direct(facts):
            reported.add(finding.line)
            yield finding
        for finding in self._wrapped(facts):
            if finding.line not in reported:
                yield finding

    def _wrapped(self, facts: ScriptFacts) -> Iterator[Finding]:
        """Schedulers a project wrapper class of another module builds and keeps (nerfstudio's
        ``Optimizers``: ``self.schedulers[k] = cfg.get_scheduler(optimizer=...)``), stepped
        here through its method (``scheduler_step_all``), while this file's checkpoint dict
        saves optimizer state and nothing of the wrapper's schedulers."""
        if facts.project is None:
            return
        held = []
        for call in facts.calls:
            qual = facts.qualified(call)
            if "." not in qual or qual.startswith("torch."):
                continue
            wrapper = facts.project.scheduler_wrapper(qual)
            if wrapper is None:
                continue
            stepped = [
                m for m in wrapper.methods if re.search(rf"\.\s*{re.escape(m)}\s*\(", facts.source)
            ]
            if stepped:
                held.append((wrapper, stepped[0]))
        if not held:
            return
        for call, writer, save in self._saves(facts):
            if writer is not facts:
                continue
            payload = self._payload(writer, save)
            if payload is None:
                continue
            keys, values = payload
            named_optimizer = any(
                "optim" in k.lower() and not _is_none(v) for k, v in zip(keys, values, strict=True)
            )
            if not named_optimizer and not any(self._is_optimizer_state(writer, v) for v in values):
                continue
            if any("sched" in k.lower() for k in keys):
                continue
            for wrapper, method in held:
                if any(
                    isinstance(n, ast.Attribute) and n.attr == wrapper.attr
                    for v in values
                    for n in ast.walk(v)
                ):
                    continue
                message = (
                    f"torch.save writes the optimizer state but not the LR schedulers a "
                    f"{wrapper.cls} keeps in self.{wrapper.attr} (stepped here by .{method}()): "
                    "a resume restarts every schedule at step 0"
                )
                fix = (
                    f'add "schedulers": {{k: s.state_dict() for k, s in '
                    f"<{wrapper.cls}>.{wrapper.attr}.items()}} to the checkpoint and load it on "
                    "resume"
                )
                yield self.finding(facts, call, message, fix)
                break

    def _direct(self, facts: ScriptFacts) -> Iterator[Finding]:
        scheds = [
            s
            for s in [*facts.active_schedulers(), *facts.parameter_schedulers]
            if s.steps
            and not s.flow.escapes
            # timm schedulers are told the epoch/update count at every step: no state to keep.
            and s.family != "timm"
            # ``last_epoch=start_step - 1``: the resume rebuilds the position from the step.
            and not any(k.arg == "last_epoch" for k in s.call.keywords)
            and not facts.repositioned(s)
        ]
        if not scheds:
            return
        # ``start_epoch = checkpoint["epoch"]``: a resume that continues the position saved.
        # A script whose resume restores an optimizer writes its resume checkpoints with the
        # optimizer state; its position-only saves (final or phase weights) are exports.
        read_back = (
            set()
            if facts.optimizer_loads()
            else {
                key
                for node in facts.of_type(ast.Subscript)
                if isinstance(node.ctx, ast.Load) and (key := const_str(node.slice)) is not None
            }
        )
        for call, writer, save in self._saves(facts):
            payload = self._payload(writer, save)
            if payload is None:
                continue
            keys, values = payload
            named_optimizer = any(
                "optim" in k.lower() and not _is_none(v) for k, v in zip(keys, values, strict=True)
            )
            resumes_position = any(k in POSITION_KEYS and k in read_back for k in keys)
            if (
                not any(self._is_optimizer_state(writer, v) for v in values)
                and not named_optimizer
                and not resumes_position
            ):
                continue
            if any("sched" in k.lower() for k in keys):
                continue
            position = next((k for k in keys if k in POSITION_KEYS and k in read_back), None)
            has_state = named_optimizer or any(self._is_optimizer_state(writer, v) for v in values)
            saved = (
                "the optimizer state" if has_state else f"the {position!r} a resume continues from"
            )
            for sched in scheds:
                if not facts.sees_scheduler(call, sched):
                    continue
                # Through a helper, the scheduler reaches the payload only as an argument.
                given = [*call.args, *(k.value for k in call.keywords)] if save is not call else []
                if any(self._mentions(v, sched, facts) for v in given or values):
                    continue
                sl, sc = facts.pos(sched.call)
                origin = (
                    f"the scheduler received as parameter {sched.cls!r} at {sl}:{sc}"
                    if sched.family == "parameter"
                    else f"{sched.cls} ({sched.name}, built at {sl}:{sc})"
                )
                writes = "torch.save"
                if save is not call:
                    wl, _ = writer.pos(save)
                    writes = f"{facts.qualified(call)} (torch.save at {writer.path}:{wl})"
                    # The helper's dict shows the keys; what this call puts in them it does not.
                    saved = "a checkpoint with keys " + ", ".join(repr(k) for k in keys)
                message = (
                    f"{writes} writes {saved} but not the state of {origin}: "
                    "a resume restarts the schedule at step 0"
                )
                fix = (
                    f'add "scheduler": {sched.name}.state_dict() to the checkpoint '
                    "and load it on resume"
                )
                yield self.finding(facts, call, message, fix, related=(sched.call,))
                break

    @staticmethod
    def _saves(facts: ScriptFacts) -> Iterator[tuple[ast.Call, ScriptFacts, ast.Call]]:
        """(call in this file, model of the file that saves, the ``torch.save``): this file's
        own saves, and calls of a project function in another module whose one
        ``torch.save`` writes the checkpoint (``utils.save_checkpoint(net, optim, ...)``)."""
        for call in facts.calls:
            qual = facts.qualified(call)
            if qual == "torch.save":
                if call.args:
                    yield call, facts, call
            elif facts.project is not None and "." in qual and not qual.startswith("torch."):
                found = facts.project.checkpoint_helper(qual)
                if found is not None and found[0] is not facts:
                    yield call, found[0], found[1]

    @staticmethod
    def _payload(facts: ScriptFacts, call: ast.Call) -> tuple[list[str], list[ast.AST]] | None:
        node = call.args[0]
        extra_keys: list[str] = []
        extra_values: list[ast.AST] = []
        if isinstance(node, ast.Name):
            sym = facts.symbol(node)
            scope = facts.scope_of(call)
            bound = [
                a
                for a in ast.walk(scope)
                if isinstance(a, ast.Assign)
                and any(facts.symbol(t) == sym for t in a.targets if isinstance(t, ast.Name))
            ]
            if len(bound) != 1:
                return None
            for a in ast.walk(scope):
                if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Subscript):
                    target = a.targets[0]
                    if facts.symbol(target.value) == sym:
                        key = const_str(target.slice)
                        if key is None:
                            return None
                        extra_keys.append(key)
                        extra_values.append(a.value)
                elif (
                    isinstance(a, ast.Call)
                    and isinstance(a.func, ast.Attribute)
                    and a.func.attr == "update"
                    and facts.symbol(a.func.value) == sym
                ):
                    return None
            node = bound[0].value
        if not isinstance(node, ast.Dict):
            return None
        keys: list[str] = []
        for key_node in node.keys:
            key = const_str(key_node)
            if key is None:
                return None  # ``**other`` or a computed key: we cannot list the payload
            keys.append(key)
        return [*keys, *extra_keys], [*node.values, *extra_values]

    @staticmethod
    def _is_optimizer_state(facts: ScriptFacts, value: ast.AST) -> bool:
        return any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "state_dict"
            and facts.is_optimizer_expr(n.func.value)
            for n in ast.walk(value)
        )

    @staticmethod
    def _mentions(value: ast.AST, sched: SchedulerInfo, facts: ScriptFacts) -> bool:
        return any(
            isinstance(n, ast.Name | ast.Attribute) and facts.symbol(n) in sched.flow.symbols
            for n in ast.walk(value)
        )
