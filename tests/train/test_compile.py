"""``train.compile``: one compiled update of the tiny config agrees with eager, the loss and
denoiser trace as one graph, and the run records the mode and its compile time.

Inductor on the CPU compiles C++ kernels, so these tests need a C++ compiler (``gcc``/``g++``,
present in CI's image); a machine without one cannot run ``train.compile`` on the CPU at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from unified_prior.data import BatchStream
from unified_prior.train import dist
from unified_prior.train.build import build_run
from unified_prior.train.checkpoint import checkpoint_name, load_checkpoint
from unified_prior.train.loop import Callback, TrainState, train

needs_cxx = pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile's CPU backend (Inductor) needs a C++ compiler: apt-get install g++",
)

#: One update, evaluated and saved; the LR at its peak from the start (warmup 0).
ONE_UPDATE = [
    "train.max_steps=1",
    "schedule.warmup_steps=0",
    "checkpoint.every_steps=1",
    "eval.every_steps=1",
]


def test_loss_and_denoiser_trace_as_one_graph(make_config) -> None:
    """A graph break would split the fusion the option exists for; there are none."""
    parts = build_run(make_config(), dist.init("cpu"), None)
    stream = BatchStream(parts.train_set, parts.sampler, start_step=0, grad_accum_steps=1, seed=0)
    _, _, batch = next(iter(stream))

    def forward_loss(model: torch.nn.Module, b: object) -> object:
        return parts.loss_fn(model, b)  # type: ignore[arg-type]

    explained = torch._dynamo.explain(forward_loss)(parts.model, batch)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1
    assert explained.op_count > 100  # the whole U-Net is in it, not an empty trace


class Gradients(Callback):
    """The gradients of each update, before clipping and the optimizer step."""

    def __init__(self) -> None:
        self.grads: list[dict[str, torch.Tensor]] = []

    def on_after_backward(self, run: TrainState) -> None:
        named = run.parts.net.named_parameters()
        self.grads.append({n: p.grad.detach().clone() for n, p in named if p.grad is not None})


def one_update(make_config, run_dir: Path, mode: str) -> tuple[dict, dict, dict]:
    """(header, first train record, gradients of the update plus ``weights`` after it)."""
    grads = Gradients()
    train(make_config(*ONE_UPDATE, f"train.compile={mode}"), run_dir, callbacks=[grads])
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    weights = load_checkpoint(run_dir / "checkpoints" / checkpoint_name(1))["model"]
    record = next(r for r in records if r["kind"] == "train")
    return records[0], record, grads.grads[0] | {"weights": weights}


@pytest.mark.slow
@needs_cxx
def test_one_compiled_update_agrees_with_eager(make_config, tmp_path: Path) -> None:
    header, record, compiled = one_update(make_config, tmp_path / "compiled", "default")
    eager_header, eager_record, eager = one_update(make_config, tmp_path / "eager", "off")

    # Tolerances: both runs are fp32 on the same batch and init. Inductor fuses and reorders
    # the reductions (GroupNorm statistics, the loss's sums, conv-weight gradients over
    # 4 x 16 x 16 positions), so results differ by rounding, not bit for bit: about
    # sqrt(n) * 1.2e-7 relative for an n-term sum, a few 1e-6 here. 1e-4 of each gradient
    # tensor's largest entry is that with a margin, and far below any real difference (a
    # wrong or missing term moves gradients by whole percents).
    assert record["loss"] == pytest.approx(eager_record["loss"], rel=1e-5)
    weights, eager_weights = compiled.pop("weights"), eager.pop("weights")
    assert compiled.keys() == eager.keys() and len(compiled) > 10
    for name, grad in eager.items():
        scale = float(grad.abs().max())
        torch.testing.assert_close(compiled[name], grad, rtol=0, atol=1e-4 * scale + 1e-12)
    # The update itself: Adam's first step moves each weight by lr * g / (|g| + eps), i.e. by
    # about +-lr = 2e-3 for every gradient well above eps; rounding-level gradient
    # differences change that by ~lr * 1e-8, so 1e-6 absolute is generous. Where a gradient
    # is within rounding noise of 0 its sign is a coin toss: such entries are left out.
    for name, w in eager_weights.items():
        grad = eager.get(name)
        decided = grad.abs() > 1e-4 * float(grad.abs().max()) if grad is not None else None
        a, b = weights[name], w
        if decided is not None:
            a, b = a[decided], b[decided]
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)

    # The run says it compiled, once, with the time kept out of the throughput.
    assert header["config"]["effective"]["compile"] == "default"
    assert eager_header["config"]["effective"]["compile"] == "off"
    assert record["compile_s"] > 0 and "compile_s" not in eager_record
    assert record["updates_per_s"] == "nan"  # the window held only the compiling update
    log = (tmp_path / "compiled" / "train.log").read_text()
    assert log.count("train.compile=default: the first update took") == 1
