"""OPT002: gradient clipping is configured but not applied before ``optimizer.step()``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.tree import dotted, last_part
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.rules.claims import CLIPPING, claims, read_only_in_logs, unapplied
from unified_prior.audit.script import ScriptFacts

CLIP_CALLS = frozenset(
    {"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_gradients", "clip_grad_value"}
)


@register
class ClippingNotApplied(Rule):
    """Three shapes of the same failure, all severity *error* (the update is unclipped):

    * the config claims a clipping threshold, but the script calls no clipping function and
      the key reaches no call: the threshold is decoration;
    * ``clip_grad_norm_`` runs *after* ``optimizer.step()`` in the same block, so it clips
      gradients that were already applied (and are zeroed before the next update);
    * in a LightningModule with automatic optimisation, the clip sits in ``training_step``,
      which runs before Lightning's own backward.

    Silent under frameworks that clip for the script (HF ``Trainer`` ``max_grad_norm``,
    Lightning ``gradient_clip_val``, DeepSpeed).
    """

    code = "OPT002"
    name = "clipping-not-applied"
    severity = "error"
    summary = "clipping configured but not applied before optimizer.step()"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        clip_calls = [c for c in facts.calls if last_part(facts.qualified(c)) in CLIP_CALLS]
        steps = facts.optimizer_steps()
        yield from self._clip_after_step(facts, clip_calls, [c for c, _ in steps])
        yield from self._clip_before_lightning_backward(facts, clip_calls)
        if clip_calls or facts.frameworks or not steps:
            return
        if not facts.optimizers or any(o.flow.escapes for o in facts.optimizers):
            return
        for key in unapplied(claims(facts, CLIPPING)):
            step_call = steps[0][0]
            sl, sc = facts.pos(step_call)
            message = (
                f"config claims gradient clipping {key.claim}, but the key "
                f"{read_only_in_logs(key)} and nothing clips gradients: "
                f"{facts.text(step_call.func)}() at {sl}:{sc} applies them unclipped"
            )
            fix = (
                f"call torch.nn.utils.clip_grad_norm_(model.parameters(), {key.key}) after "
                "backward (after scaler.unscale_(optimizer) under AMP) and before optimizer.step()"
            )
            yield self.finding(facts, key.node, message, fix, related=(step_call,))
            return

    def _clip_after_step(
        self, facts: ScriptFacts, clip_calls: list[ast.Call], steps: list[ast.Call]
    ) -> Iterator[Finding]:
        step_ids = {id(s) for s in steps}
        for clip in clip_calls:
            stmt = facts.statement_of(clip)
            earlier = None
            # ``if max_grad_norm is not None: clip(...)`` after the step: climb out of ``if``
            # blocks (not loops or functions) until a block holds a step before the clip.
            while True:
                block = self._block_of(facts, stmt)
                if block is None:
                    break
                index = block.index(stmt)
                before = [self._step_in(s, step_ids) for s in block[:index]]
                after = [self._step_in(s, step_ids) for s in block[index:]]
                if any(a is not None for a in after):
                    break
                earlier = next((s for s in reversed(before) if s is not None), None)
                parent = facts.parents.get(stmt)
                if earlier is not None or not isinstance(parent, ast.If):
                    break
                stmt = parent
            if earlier is None:
                continue
            sl, sc = facts.pos(earlier)
            message = (
                f"{facts.text(clip.func)}() runs after {facts.text(earlier.func)}() ({sl}:{sc}) "
                "in the same block: it clips gradients that were already applied, so no "
                "update is ever clipped"
            )
            fix = "move the clipping call between loss.backward() and optimizer.step()"
            yield self.finding(facts, clip, message, fix, related=(earlier,))

    def _clip_before_lightning_backward(
        self, facts: ScriptFacts, clip_calls: list[ast.Call]
    ) -> Iterator[Finding]:
        """Third shape: under Lightning's automatic optimisation, ``training_step`` only
        computes the loss; Lightning runs backward after it returns, then the step. A clip
        inside ``training_step`` acts on the gradients of no update (cleared or stale)."""
        for clip in clip_calls:
            func = facts.scope_of(clip)
            owner = facts.class_of(clip)
            if not (
                isinstance(func, ast.FunctionDef)
                and func.name == "training_step"
                and owner is not None
                and facts.parents.get(func) is owner
                and any(last_part(dotted(b)) == "LightningModule" for b in owner.bases)
                and not facts._manual_optimization(owner)
            ):
                continue
            if any(
                isinstance(n, ast.FunctionDef) and n.name == "automatic_optimization"
                for n in owner.body
            ):
                continue  # a property says which: we do not evaluate it
            if any(
                isinstance(n, ast.Call)
                and last_part(dotted(n.func)) in {"backward", "manual_backward"}
                and n.lineno < clip.lineno
                for n in ast.walk(func)
            ):
                continue  # the step computes its own gradients: not Lightning's backward
            message = (
                f"{facts.text(clip.func)}() runs inside training_step of a LightningModule "
                "with automatic optimisation: Lightning calls backward only after "
                "training_step returns, so this clips no update's gradients"
            )
            fix = (
                "pass gradient_clip_val to the Trainer, or clip in configure_gradient_clipping "
                "/ on_before_optimizer_step"
            )
            yield self.finding(facts, clip, message, fix)
            return

    @staticmethod
    def _block_of(facts: ScriptFacts, stmt: ast.stmt) -> list[ast.stmt] | None:
        parent = facts.parents.get(stmt)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(parent, name, None)
            if isinstance(block, list) and stmt in block:
                return block
        return None

    @staticmethod
    def _step_in(stmt: ast.stmt, step_ids: set[int]) -> ast.Call | None:
        stack: list[ast.AST] = [stmt]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call) and id(node) in step_ids:
                return node
            stack.extend(
                child
                for child in ast.iter_child_nodes(node)
                if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            )
        return None
