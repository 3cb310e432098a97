"""OPT001: gradient accumulation is configured, but the optimizer steps every batch."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.claims.values import fmt_value, is_unknown
from unified_prior.audit.finding import Finding
from unified_prior.audit.model.catalog import ACCUM_TOKEN
from unified_prior.audit.model.tree import Control, dotted, last_part, tokens
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.rules.claims import ACCUMULATION, claims, read_only_in_logs, unapplied
from unified_prior.audit.script import ScriptFacts

#: Calls that only size or convert a number: an accumulation count passed to them gates nothing.
SIZING_CALLS = frozenset({"int", "float", "round", "min", "max", "len", "ceil", "floor", "str"})


def _sizes_a_schedule(facts: ScriptFacts, node: ast.AST) -> bool:
    """The read is an argument of a scheduler's constructor (``get_scheduler(...,
    num_training_steps=n * accum)``): it sizes the schedule, it accumulates nothing."""
    cur = facts.parents.get(node)
    while cur is not None and not isinstance(cur, ast.stmt):
        if isinstance(cur, ast.Call):
            return facts.constructs_scheduler(cur)
        cur = facts.parents.get(cur)
    return False


def _exclusive(a: Control, b: Control) -> bool:
    """The two sit on opposite sides of one ``if``: they never run in the same iteration."""
    sides = {id(node): side for node, side in a.branches}
    return any(id(node) in sides and sides[id(node)] != side for node, side in b.branches)


def _per_batch_hook(scope: ast.AST) -> bool:
    """Lightning's ``training_step`` (and the like) runs once per batch: its body is the loop."""
    return isinstance(scope, ast.FunctionDef) and scope.name in {"training_step", "train_step"}


def _is_accumulation_test(test: ast.AST) -> bool:
    """``x % accum_steps == 0``: a modulo by something named for accumulation."""
    return any(
        isinstance(n, ast.BinOp)
        and isinstance(n.op, ast.Mod)
        and any(ACCUM_TOKEN.search(t) for t in tokens(n.right))
        for n in ast.walk(test)
    )


@register
class AccumulationNotApplied(Rule):
    """The config claims N micro-batches per update, but its value never reaches the loop
    (no ``% N`` boundary test, no inner ``range(N)`` loop, no loss division, no argument to
    any call): every batch ends in ``optimizer.step()``, so the effective batch and the
    update count differ from the claim by N. Severity *error*: the schedule's clock and the
    batch size both differ from the configuration.

    Second shape: the optimizer steps under an accumulation boundary test, but
    ``zero_grad()`` runs on every micro-batch, outside any such test: the gradients are
    cleared before they can add up, so each update sees one micro-batch.

    Third shape: the loop tests an accumulation boundary (``if step % accum_steps == 0:``)
    but ``optimizer.step()`` runs outside that test, on every batch.

    Fourth shape: inside ``with accelerator.accumulate(model):`` the script clears
    gradients with ``model.zero_grad()``: accelerate skips the prepared *optimizer's*
    ``zero_grad`` on micro-batches, never the module's.

    Silent under frameworks that accumulate for the script (HF ``Trainer``, Lightning,
    ``accelerator.accumulate``, DeepSpeed) and when an optimizer step sits under a
    ``%``-style boundary test.
    """

    code = "OPT001"
    name = "accumulation-not-applied"
    severity = "error"
    summary = "gradient accumulation configured, optimizer steps every batch"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        yield from self._cleared_every_micro_batch(facts)
        yield from self._step_outside_accumulation_test(facts)
        yield from self._module_cleared_inside_accumulate(facts)
        keys = [
            k
            for k in unapplied(claims(facts, ACCUMULATION))
            if k.source == "argparse"
            or is_unknown(k.value)
            or (isinstance(k.value, int) and k.value > 1)
        ]
        if not keys and not facts.frameworks:
            yield from self._never_gates(facts)
        if not keys or facts.frameworks:
            return
        if not facts.optimizers or any(o.flow.escapes for o in facts.optimizers):
            return
        ungated = _ungated_step(facts)
        if ungated is None:
            return
        step_call, loop = ungated
        key = keys[0]
        message = (
            f"config claims {key.display} = {fmt_value(key.value)} micro-batches per update, "
            f"but the key {read_only_in_logs(key)}: {_every_iteration(facts, step_call, loop)}"
        )
        fix = (
            f"divide the loss by {key.key} and call optimizer.step()/zero_grad() (and the "
            f"scheduler) only when (micro_step + 1) % {key.key} == 0"
        )
        yield self.finding(facts, key.node, message, fix, related=(step_call, loop))

    def _never_gates(self, facts: ScriptFacts) -> Iterator[Finding]:
        """Fifth shape: the accumulation count is read, but only to scale the loss, the LR,
        the schedule's length or the logged batch size; nothing ever holds the step back
        (no boundary test, no inner micro-batch loop, no framework given the count), so
        every batch ends in ``optimizer.step()``. A count that is a function parameter or
        an option is claimed whatever its default: the caller chooses it."""
        keys = [
            k
            for k in claims(facts, ACCUMULATION, off_ok=True)
            if k.applied
            and not any(
                r.kind == "handed" and not _sizes_a_schedule(facts, r.node) for r in k.reads
            )
            and (
                k.source in {"argparse", "param"}
                or is_unknown(k.value)
                or (isinstance(k.value, int) and k.value > 1)
            )
        ]
        if not keys or not facts.optimizers or any(o.flow.escapes for o in facts.optimizers):
            return
        ungated = _ungated_step(facts)
        if ungated is None or self._count_can_gate(facts):
            return
        step_call, loop = ungated
        key = keys[0]
        message = (
            f"{key.claim} claims micro-batches per update, but the count only scales values "
            f"(loss, LR, schedule length, logged batch size): "
            f"{_every_iteration(facts, step_call, loop)}"
        )
        fix = (
            f"call optimizer.step()/zero_grad() (and the scheduler) only when "
            f"(micro_step + 1) % {key.key} == 0"
        )
        yield self.finding(facts, key.node, message, fix, related=(step_call, loop))

    @staticmethod
    def _count_can_gate(facts: ScriptFacts) -> bool:
        """Some use of an accumulation-named value could hold a step back: a loop over it
        (``for _ in range(accum)``), a ``%`` by it, a test of it that guards a backward,
        step or zero_grad, or an argument to code other than logging, arithmetic, an optimizer's
        or a scheduler's constructor (a function we cannot see may accumulate)."""
        gate_calls = {"step", "backward", "zero_grad"}
        heads: list[ast.AST] = [
            *(n.iter for n in facts.of_type(ast.For)),
            *(n.test for n in facts.of_type(ast.While)),
        ]
        if any(ACCUM_TOKEN.search(t) for head in heads for t in tokens(head)):
            return True
        for binop in facts.of_type(ast.BinOp):
            if isinstance(binop.op, ast.Mod) and any(
                ACCUM_TOKEN.search(t) for t in tokens(binop.right)
            ):
                return True
        tests: list[tuple[ast.expr, list[ast.stmt] | list[ast.expr]]] = [
            *((n.test, n.body) for n in facts.of_type(ast.If)),
            *((n.test, [n.body]) for n in facts.of_type(ast.IfExp)),
        ]
        for test, body in tests:
            if not any(ACCUM_TOKEN.search(t) for t in tokens(test)):
                continue
            if any(
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr in gate_calls
                for part in body
                for n in ast.walk(part)
            ):
                return True
        for call in facts.calls:
            passed = [*call.args, *(k.value for k in call.keywords)]
            if not any(ACCUM_TOKEN.search(t) for a in passed for t in tokens(a)):
                continue
            name = last_part(dotted(call.func))
            if (
                facts.is_log_call(call)
                or facts.inside_log_call(call)
                or facts.constructs_scheduler(call)
                or any(call is o.call for o in facts.optimizers)
                or facts.qualified(call).startswith("math.")
                or name in SIZING_CALLS
            ):
                continue
            return True
        return False

    def _cleared_every_micro_batch(self, facts: ScriptFacts) -> Iterator[Finding]:
        # The script gates the step itself, so it accumulates itself: only a framework that
        # skips zero_grad on micro-batches (accelerate, DeepSpeed) would make this right.
        if facts.frameworks & {"accumulate", "deepspeed"}:
            return
        for step_call, opt_expr in facts.optimizer_steps():
            ctl = facts.control(step_call)
            guard = facts.accumulation_guard(ctl.branches)
            if guard is None or not (ctl.loops or _per_batch_hook(ctl.scope)):
                continue
            name = facts.text(opt_expr)
            for call in facts.calls:
                func = call.func
                if not (
                    isinstance(func, ast.Attribute)
                    and func.attr == "zero_grad"
                    and facts.text(func.value) == name
                ):
                    continue
                zctl = facts.control(call)
                if zctl.scope is not ctl.scope or zctl.loops[-1:] != ctl.loops[-1:]:
                    continue
                if _exclusive(zctl, ctl):
                    continue  # ``if amp: ...zero_grad() else: ...step()``: never both
                if facts.accumulation_guard(zctl.branches) is not None:
                    late = self._before_last_backward(facts, call, step_call, ctl)
                    if late is None:
                        continue
                    bl, bc = facts.pos(late)
                    message = (
                        f"{facts.text(call.func)}() runs at the accumulation boundary before "
                        f"the backward at {bl}:{bc}, so {facts.text(step_call.func)}() sees only "
                        "the last micro-batch's gradients: the earlier ones are cleared"
                    )
                    fix = f"call {name}.zero_grad() right after {name}.step(), not before backward"
                    yield self.finding(facts, call, message, fix, related=(late, step_call))
                    return
                gl, gc = facts.pos(guard)
                message = (
                    f"{facts.text(call.func)}() runs on every micro-batch, but "
                    f"{facts.text(step_call.func)}() runs only under the accumulation test at "
                    f"{gl}:{gc}: the gradients are cleared before they add up, so each update "
                    "uses one micro-batch"
                )
                fix = (
                    f"call {name}.zero_grad() only right after {name}.step(), inside the "
                    "same accumulation branch"
                )
                yield self.finding(facts, call, message, fix, related=(step_call, guard))
                return

    @staticmethod
    def _before_last_backward(
        facts: ScriptFacts, zero: ast.Call, step: ast.Call, ctl: Control
    ) -> ast.Call | None:
        """A ``backward()`` that runs on every micro-batch between ``zero`` and ``step``."""
        for call in facts.calls:
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "backward"):
                continue
            bctl = facts.control(call)
            if bctl.scope is not ctl.scope or bctl.loops[-1:] != ctl.loops[-1:]:
                continue
            if facts.accumulation_guard(bctl.branches) is not None:
                continue
            if _exclusive(bctl, ctl) or _exclusive(bctl, facts.control(zero)):
                continue
            if zero.lineno < call.lineno < step.lineno:
                return call
        return None

    def _step_outside_accumulation_test(self, facts: ScriptFacts) -> Iterator[Finding]:
        if facts.frameworks & {"accumulate", "deepspeed"}:
            return
        for step_call, _ in facts.optimizer_steps():
            ctl = facts.control(step_call)
            if not ctl.loops or facts.accumulation_guard(ctl.branches) is not None:
                continue
            loop = ctl.loops[-1]
            test = next(
                (
                    node
                    for node in ast.walk(loop)
                    if isinstance(node, ast.If)
                    and facts.control(node).loops[-1:] == (loop,)
                    and facts.scope_of(node) is ctl.scope
                    and _is_accumulation_test(node.test)
                ),
                None,
            )
            if test is None:
                continue
            tl, tc = facts.pos(test)
            message = (
                f"the loop tests an accumulation boundary at {tl}:{tc}, but "
                f"{facts.text(step_call.func)}() runs outside that test, on every batch: "
                "gradients are never accumulated"
            )
            fix = "move optimizer.step()/zero_grad() (and the scheduler step) under that test"
            yield self.finding(facts, step_call, message, fix, related=(test,))
            return

    def _module_cleared_inside_accumulate(self, facts: ScriptFacts) -> Iterator[Finding]:
        for call in facts.calls:
            func = call.func
            if not (isinstance(func, ast.Attribute) and func.attr == "zero_grad"):
                continue
            if facts.is_optimizer_expr(func.value):
                continue
            ctl = facts.control(call)
            if facts.accumulation_guard(ctl.branches) is not None:
                continue
            block = next(
                (
                    w
                    for w in reversed(ctl.withs)
                    for item in getattr(w, "items", [])
                    if isinstance(item.context_expr, ast.Call)
                    and last_part(dotted(item.context_expr.func)) == "accumulate"
                    and any(facts.text(a) == facts.text(func.value) for a in item.context_expr.args)
                ),
                None,
            )
            if block is None:
                continue
            bl, bc = facts.pos(block)
            message = (
                f"{facts.text(func)}() inside the accumulate block at {bl}:{bc} clears the "
                "module's gradients on every micro-batch (accelerate skips only the prepared "
                "optimizer's zero_grad): each update uses one micro-batch"
            )
            fix = "call optimizer.zero_grad() (the prepared optimizer) instead"
            yield self.finding(facts, call, message, fix, related=(block,))
            return


def _ungated_step(facts: ScriptFacts) -> tuple[ast.Call, ast.AST] | None:
    """The first ``optimizer.step()`` inside a loop, with its innermost loop, when no step
    site sits behind an accumulation test; ``None`` when a step is gated or none loops."""
    looped = [(call, facts.control(call)) for call, _ in facts.optimizer_steps()]
    looped = [(c, ctl) for c, ctl in looped if ctl.loops]
    if not looped or any(facts.accumulation_guard(ctl.branches) for _, ctl in looped):
        return None
    step_call, ctl = looped[0]
    return step_call, ctl.loops[-1]


def _every_iteration(facts: ScriptFacts, step_call: ast.Call, loop: ast.AST) -> str:
    """Where the ungated step runs, as both messages say it."""
    sl, sc = facts.pos(step_call)
    ll, lc = facts.pos(loop)
    call = facts.text(step_call.func)
    return f"{call}() at {sl}:{sc} runs on every iteration of the loop at {ll}:{lc}"
