"""ScheduleGuard on real torch loops: it catches the known ways a schedule silently fails."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
import torch

from unified_prior.schedules import LR_SCALE_KEY, CosineSpec, Plan
from unified_prior.train.guard import ScheduleGuard, ScheduleMismatchError, to_lambda_lr

PEAK, WARMUP, TOTAL = 1e-3, 50, 500
PLAN = Plan.single(
    CosineSpec(warmup_steps=WARMUP, warmup_start_factor=0.01, min_lr_ratio=0.01),
    peak_lr=PEAK,
    max_steps=TOTAL,
)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Tiny loops are dominated by thread hand-off on a shared CPU.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Loop:
    """A small real model, optimizer and data: one ``update()`` is one optimizer step."""

    def __init__(self, lr: float = PEAK, *, scaled_head: bool = False) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
        )
        body, head = list(self.model[0].parameters()), list(self.model[2].parameters())
        groups: list[dict[str, object]] = [{"params": body, "lr": lr}]
        groups.append(
            {"params": head, "lr": lr * 0.1, LR_SCALE_KEY: 0.1}
            if scaled_head
            else {"params": head, "lr": lr}
        )
        self.opt = torch.optim.AdamW(groups)  # type: ignore[arg-type]
        self.x, self.y = torch.randn(16, 4), torch.randn(16, 1)

    def backward(self) -> None:
        torch.nn.functional.mse_loss(self.model(self.x), self.y).backward()

    def update(self) -> None:
        self.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.model.parameters()]


def sequential_lr(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.SequentialLR:
    """The warmup+cosine that the original run declared, built the usual torch way."""
    return torch.optim.lr_scheduler.SequentialLR(
        opt,
        [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=WARMUP),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, TOTAL - WARMUP, eta_min=0.01 * PEAK),
        ],
        milestones=[WARMUP],
    )


def test_scheduler_built_but_never_stepped_is_caught_where_the_plan_first_moves() -> None:
    # The original run's bug, in the form most people write it: the scheduler exists (and
    # set the warmup's first LR), but the loop only calls optimizer.step().
    loop = Loop()
    sequential_lr(loop.opt)
    guard = ScheduleGuard(loop.opt, PLAN).attach()
    loop.update()  # update 0: LR 1e-5 is what the plan says too
    before = loop.snapshot()
    with pytest.raises(ScheduleMismatchError) as caught:
        loop.update()
    err = caught.value
    assert (err.step, err.group) == (1, 0)
    assert err.expected == PLAN.lr_at(1)
    assert err.actual == pytest.approx(PEAK * 0.01, rel=1e-12)
    # The pre-hook raised before the update: the weights did not move with the wrong LR.
    assert all(torch.equal(a, b) for a, b in zip(before, loop.snapshot(), strict=True))
    assert guard.updates_checked == 1


def test_no_scheduler_at_all_is_caught_at_the_first_update() -> None:
    loop = Loop()  # lr=peak fixed forever: what the original run applied
    ScheduleGuard(loop.opt, PLAN).attach()
    with pytest.raises(ScheduleMismatchError) as caught:
        loop.update()
    assert (caught.value.step, caught.value.actual) == (0, PEAK)
    assert caught.value.expected == pytest.approx(PEAK * 0.01, rel=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own order warning
def test_scheduler_stepped_per_micro_batch_is_caught() -> None:
    accum = 4
    loop = Loop()
    sched = to_lambda_lr(loop.opt, PLAN)
    ScheduleGuard(loop.opt, PLAN).attach()
    with pytest.raises(ScheduleMismatchError) as caught:
        for micro in range(40):
            loop.backward()
            if (micro + 1) % accum == 0:
                loop.opt.step()
                loop.opt.zero_grad(set_to_none=True)
            sched.step()  # wrong: outside the optimizer-step branch, once per micro-batch
    # Update 0 already runs with the LR of update 3: the schedule runs `accum` times fast.
    assert (caught.value.step, caught.value.group) == (0, 0)
    assert caught.value.actual == pytest.approx(PLAN.lr_at(accum - 1), rel=1e-12)
    assert caught.value.expected == PLAN.lr_at(0)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_linear_and_cosine_both_stepped_on_one_optimizer_is_caught() -> None:
    loop = Loop()
    warm = torch.optim.lr_scheduler.LinearLR(loop.opt, start_factor=0.01, total_iters=WARMUP)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(loop.opt, TOTAL - WARMUP, eta_min=0.01 * PEAK)
    guard = ScheduleGuard(loop.opt, PLAN).attach()
    with pytest.raises(ScheduleMismatchError) as caught:
        for _ in range(TOTAL):
            loop.update()
            warm.step()
            cos.step()  # compounds with the warmup: both multiply the same LR
    err = caught.value
    assert 1 <= err.step < TOTAL
    assert abs(err.actual / err.expected - 1) > guard.rel_tol

    # Unguarded, the same loop ends far above the floor it declared.
    loop = Loop()
    warm = torch.optim.lr_scheduler.LinearLR(loop.opt, start_factor=0.01, total_iters=WARMUP)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(loop.opt, TOTAL - WARMUP, eta_min=0.01 * PEAK)
    for _ in range(TOTAL):
        loop.opt.step()
        warm.step()
        cos.step()
    assert loop.opt.param_groups[0]["lr"] > 1.4 * PLAN.lr_at(TOTAL)


def test_silent_for_5000_updates_of_a_correct_loop_with_accumulation() -> None:
    plan = Plan.single(
        CosineSpec(warmup_steps=500, warmup_start_factor=0.01, min_lr_ratio=0.01),
        peak_lr=PEAK,
        max_steps=5_000,
    )
    loop = Loop(scaled_head=True)
    guard = ScheduleGuard(loop.opt, plan).attach()
    for step in range(5_000):
        for _ in range(2):  # gradient accumulation does not advance the clock
            loop.backward()
        plan.apply(loop.opt, step)
        loop.opt.step()
        loop.opt.zero_grad(set_to_none=True)
    assert guard.updates_checked == 5_000
    assert guard.step == 5_000
    assert loop.opt.param_groups[1]["lr"] == pytest.approx(0.1 * plan.lr_at(4_999), rel=1e-15)


def test_silent_for_5000_updates_of_a_lambda_lr_loop_on_the_trainers_clock() -> None:
    plan = Plan.single(
        CosineSpec(warmup_steps=300, min_lr_ratio=0.05), peak_lr=PEAK, max_steps=5_000
    )
    loop = Loop(scaled_head=True)
    sched = to_lambda_lr(loop.opt, plan)
    clock = {"step": 0}
    guard = ScheduleGuard(loop.opt, plan, step_fn=lambda: clock["step"]).attach()
    for _ in range(5_000):
        loop.opt.step()
        sched.step()
        clock["step"] += 1
    assert guard.updates_checked == 5_000


def test_error_carries_step_group_expected_actual_and_pickles() -> None:
    err = ScheduleMismatchError(25_000, 1, 9.996698e-5, 1e-4)
    assert (err.step, err.group, err.expected, err.actual) == (25_000, 1, 9.996698e-5, 1e-4)
    message = str(err)
    for part in ("update 25000", "param group 1", "1.000000e-04", "9.996698e-05"):
        assert part in message
    again = pickle.loads(pickle.dumps(err))
    assert (again.step, again.group, again.expected, again.actual) == (25_000, 1, 9.996698e-5, 1e-4)
    assert str(again) == message


def test_lr_scale_is_checked_per_group() -> None:
    loop = Loop(scaled_head=True)
    guard = ScheduleGuard(loop.opt, PLAN).attach()
    PLAN.apply(loop.opt, 0)
    loop.update()  # both groups right, the head at 0.1x
    loop.opt.param_groups[1]["lr"] = PLAN.lr_at(1)  # someone forgot the head's scale
    loop.opt.param_groups[0]["lr"] = PLAN.lr_at(1)
    with pytest.raises(ScheduleMismatchError) as caught:
        loop.update()
    assert (caught.value.step, caught.value.group) == (1, 1)
    assert caught.value.expected == pytest.approx(0.1 * PLAN.lr_at(1), rel=1e-15)
    assert guard.updates_checked == 1


def test_resume_counts_from_start_step() -> None:
    loop = Loop()
    guard = ScheduleGuard(loop.opt, PLAN, start_step=300).attach()
    for step in range(300, 320):
        PLAN.apply(loop.opt, step)
        loop.update()
    assert guard.step == 320
    PLAN.apply(loop.opt, 0)  # a resumed loop that restarts the schedule at 0
    with pytest.raises(ScheduleMismatchError, match="update 320"):
        loop.update()


def test_detach_and_context_manager() -> None:
    loop = Loop()
    guard = ScheduleGuard(loop.opt, PLAN).attach()
    with pytest.raises(RuntimeError, match="already attached"):
        guard.attach()
    guard.detach()
    loop.update()  # LR is the peak, not the plan's: no longer checked
    assert guard.updates_checked == 0
    with ScheduleGuard(loop.opt, PLAN) as scoped, pytest.raises(ScheduleMismatchError):
        loop.update()
    assert scoped.updates_checked == 0
    loop.update()  # the context manager detached on the way out
