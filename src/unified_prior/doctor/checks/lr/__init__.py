"""The LR family: is the declared schedule what the optimizer actually used?

No tool we surveyed compares the LR a run applied with the schedule it declared. Evidence of
the applied LR is the logged LR and, when nothing was logged, the param groups stored in
checkpoints. One verdict is computed and shared:

- ``LR001`` the plan moves but the applied LR is constant (or simply does not follow it),
  including from checkpoints alone: groups at the peak LR, no ``initial_lr``, no scheduler
  state means no torch scheduler was ever built;
- ``LR002`` the applied LR is the plan run k× faster or slower (a scheduler stepped per
  micro-batch runs ``grad_accum_steps``× ahead), or the plan scaled by a constant;
- ``LR003`` at a resume the LR jumps off the plan, or the warmup starts again;
- ``LR004`` the declared warmup never happened.

One module per finding code, over the verdict in ``verdict``. Importing this package
registers LR001, LR002, LR003, LR004 in that order (the import order below), which is the
order their findings are reported in.
"""

from unified_prior.doctor.checks.lr import (  # imported to register, in this order
    lr001_not_applied,
    lr002_factor,
    lr003_resume,
    lr004_warmup,
)
from unified_prior.doctor.checks.lr.verdict import (
    FIT_SHARE,
    MAX_OBSERVATIONS,
    TIME_FACTORS,
    LrVerdict,
    VerdictKind,
    lr_verdict,
)

__all__ = [
    "FIT_SHARE",
    "MAX_OBSERVATIONS",
    "TIME_FACTORS",
    "LrVerdict",
    "VerdictKind",
    "lr001_not_applied",
    "lr002_factor",
    "lr003_resume",
    "lr004_warmup",
    "lr_verdict",
]
