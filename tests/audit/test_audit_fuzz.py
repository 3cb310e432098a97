"""Fuzz (issue 14): whatever bytes a ``.py`` holds, the audit returns findings (at most one
E902/E998/E999 note for a file it cannot take) and never raises. Audited code never runs, so
random programs are safe to feed it."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unified_prior.audit import audit_paths, audit_source

#: Fragments of real training scripts, recombined at random into (mostly valid) programs.
FRAGMENTS = [
    "import torch\n",
    "optimizer = torch.optim.AdamW(model.parameters(), lr=config['lr'])\n",
    "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)\n",
    "config = {'warmup_steps': 100, 'gradient_accumulation_steps': 4, 'max_grad_norm': 1.0}\n",
    "for batch in loader:\n    loss = model(batch)\n    loss.backward()\n",
    "    optimizer.step()\n",
    "    scheduler.step()\n",
    "    if step % config['gradient_accumulation_steps'] == 0:\n        optimizer.step()\n",
    "    optimizer.zero_grad()\n",
    "torch.save({'optimizer': optimizer.state_dict(), 'epoch': 1}, 'c.pt')\n",
    "state = torch.load('c.pt')\noptimizer.load_state_dict(state['optimizer'])\n",
    "class M:\n    def f(self, x=1):\n        return self.f(x)\n",
    "m = M()\nm.f(optimizer)\n",
    "def build(opt):\n    return torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1)\n",
    "s = build(optimizer)\n",
    "x = " + " + ".join(["a"] * 50) + "\n",
    "lambda: lambda: lambda: 0\n",
    "with accelerator.accumulate(model):\n    model.zero_grad()\n",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12), st.randoms(use_true_random=False))
def test_recombined_training_code_never_raises(parts: list[str], rnd: random.Random) -> None:
    source = "".join(parts)
    if source and rnd.random() < 0.3:  # cut anywhere: half-written files
        source = source[: rnd.randrange(len(source))]
    found = audit_source(source, "fuzz.py")
    assert all(f.path == "fuzz.py" and f.line >= 1 and f.col >= 1 for f in found)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_at_most_one_note(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "blob.py"
    path.write_bytes(data)
    found = audit_paths([path])
    notes = [f for f in found if f.code in {"E902", "E998", "E999"}]
    assert len(notes) <= 1
    assert not notes or len(found) == 1
