"""The plan equals torch's own schedulers on a real optimizer, update by update."""

from __future__ import annotations

import io
import math

import pytest
import torch

from unified_prior.schedules import LR_SCALE_KEY, CosineSpec, Plan, WSDSpec
from unified_prior.train.guard import ScheduleGuard, to_lambda_lr

# torch's SequentialLR passes an epoch to the second scheduler at the milestone, which
# torch itself deprecates; the warnings are torch's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

STEPS = 2_000


def real_model() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.SiLU(), torch.nn.Linear(16, 1))
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    return model, x, y


def update(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> None:
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()


@pytest.mark.parametrize(("warmup", "f0", "r"), [(200, 0.01, 0.01), (500, 0.1, 0.0), (1, 0.5, 0.3)])
def test_parity_with_sequential_linear_then_cosine(warmup: int, f0: float, r: float) -> None:
    peak = 3e-4
    plan = Plan.single(
        CosineSpec(warmup_steps=warmup, warmup_start_factor=f0, min_lr_ratio=r),
        peak_lr=peak,
        max_steps=STEPS,
    )
    model, x, y = real_model()
    opt = torch.optim.AdamW(model.parameters(), lr=peak)
    sched = torch.optim.lr_scheduler.SequentialLR(
        opt,
        [
            torch.optim.lr_scheduler.LinearLR(
                opt, start_factor=f0, end_factor=1.0, total_iters=warmup
            ),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS - warmup, eta_min=r * peak),
        ],
        milestones=[warmup],
    )
    worst = 0.0
    with ScheduleGuard(opt, plan, rel_tol=1e-9) as guard:  # silent on every update
        for step in range(STEPS):
            torch_lr = opt.param_groups[0]["lr"]
            worst = max(worst, abs(torch_lr - plan.lr_at(step)) / plan.lr_at(step))
            update(model, opt, x, y)
            sched.step()
    assert guard.updates_checked == STEPS
    assert worst <= 1e-9
    # After the last update torch sits at the floor, where the plan ends.
    assert math.isclose(opt.param_groups[0]["lr"], plan.lr_at(STEPS), rel_tol=1e-9)
    assert math.isclose(plan.lr_at(STEPS), r * peak if r else 0.0, rel_tol=1e-12, abs_tol=1e-18)


def multi_segment_plan() -> Plan:
    first = Plan.single(
        CosineSpec(warmup_steps=100, warmup_start_factor=0.01, min_lr_ratio=0.01),
        peak_lr=1e-3,
        max_steps=STEPS,
    )
    spec = WSDSpec(warmup_steps=0, decay_fraction=0.3, decay_shape="1-sqrt", min_lr_ratio=0.1)
    return first.replan(800, spec, peak_lr=4e-4, max_steps=STEPS, rewarm_steps=150)


@pytest.mark.parametrize("plan", [multi_segment_plan()], ids=["replanned-wsd"])
def test_to_lambda_lr_follows_the_plan_per_group(plan: Plan) -> None:
    model, x, y = real_model()
    first, second = list(model.parameters())[:2], list(model.parameters())[2:]
    opt = torch.optim.AdamW(
        [
            {"params": first, "lr": plan.base_lr},
            {"params": second, "lr": plan.base_lr * 0.1, LR_SCALE_KEY: 0.1},
        ]
    )
    sched = to_lambda_lr(opt, plan)
    for step in range(STEPS):
        for group, scale in zip(opt.param_groups, (1.0, 0.1), strict=True):
            assert math.isclose(group["lr"], plan.lr_at(step) * scale, rel_tol=1e-12), step
        update(model, opt, x, y)
        sched.step()


def test_to_lambda_lr_state_survives_a_checkpoint() -> None:
    plan = multi_segment_plan()
    model, x, y = real_model()
    opt = torch.optim.AdamW(model.parameters(), lr=plan.base_lr)
    sched = to_lambda_lr(opt, plan)
    for _ in range(900):
        update(model, opt, x, y)
        sched.step()
    buffer = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    model2, _, _ = real_model()
    opt2 = torch.optim.AdamW(model2.parameters(), lr=plan.base_lr)
    sched2 = to_lambda_lr(opt2, plan)
    opt2.load_state_dict(state["optimizer"])
    sched2.load_state_dict(state["scheduler"])
    for step in range(900, 1200):
        assert math.isclose(opt2.param_groups[0]["lr"], plan.lr_at(step), rel_tol=1e-12), step
        update(model2, opt2, x, y)
        sched2.step()


def test_to_lambda_lr_rejects_an_optimizer_built_with_another_lr() -> None:
    plan = multi_segment_plan()
    model, _, _ = real_model()
    opt = torch.optim.AdamW(model.parameters(), lr=plan.base_lr * 2)
    with pytest.raises(ValueError, match="param group 0"):
        to_lambda_lr(opt, plan)
