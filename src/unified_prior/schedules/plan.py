"""The plan: the LR of a whole run as a list of segments on one step clock.

A fresh run has one segment. Resuming with ``--policy replan`` appends a segment that starts
at the resume step, optionally bridging linearly from the LR last applied to the new curve.
The plan is stored in every checkpoint and in the metrics header, so anyone reading the run
later knows exactly which LR each update was meant to use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unified_prior.schedules.base import ScheduleSpec
from unified_prior.schedules.registry import spec_from_dict

if TYPE_CHECKING:  # torch stays unimported for readers of plans (the doctor)
    import torch

#: Per-param-group multiplier of the plan's LR (e.g. a lower LR for an embedding table).
LR_SCALE_KEY = "lr_scale"


@dataclass(frozen=True)
class Segment:
    """``spec`` scaled to ``peak_lr``, counted from ``start_step`` for ``total_steps`` updates."""

    start_step: int
    total_steps: int
    peak_lr: float
    spec: ScheduleSpec
    rewarm_steps: int = 0
    from_lr: float | None = None

    def __post_init__(self) -> None:
        if self.start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {self.start_step}")
        if not (math.isfinite(self.peak_lr) and self.peak_lr > 0):
            raise ValueError(
                f"peak_lr (optim.learning_rate) must be a finite number > 0, got {self.peak_lr}"
            )
        self.spec.check_length(self.total_steps)
        if self.rewarm_steps < 0 or self.rewarm_steps >= self.total_steps:
            raise ValueError(f"rewarm_steps={self.rewarm_steps} must be in [0, {self.total_steps})")
        if self.rewarm_steps and self.from_lr is None:
            raise ValueError("rewarm_steps > 0 needs from_lr, the LR to bridge from")

    @property
    def end_step(self) -> int:
        return self.start_step + self.total_steps

    def curve(self, step: int) -> float:
        """The LR of the spec alone (no bridge) at absolute ``step``."""
        return self.peak_lr * self.spec.factor(step - self.start_step, self.total_steps)

    def lr_at(self, step: int) -> float:
        local = step - self.start_step
        if local < self.rewarm_steps:
            assert self.from_lr is not None  # checked in __post_init__
            target = self.curve(self.start_step + self.rewarm_steps)
            return self.from_lr + (target - self.from_lr) * local / self.rewarm_steps
        return self.curve(step)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_step": self.start_step,
            "total_steps": self.total_steps,
            "peak_lr": self.peak_lr,
            "spec": self.spec.model_dump(),
            "rewarm_steps": self.rewarm_steps,
            "from_lr": self.from_lr,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        """Inverse of ``to_dict``; a malformed dict raises ``ValueError`` naming the key."""
        missing = [k for k in ("start_step", "total_steps", "peak_lr", "spec") if k not in data]
        if missing:
            raise ValueError(f"plan segment lacks {', '.join(missing)}: {data!r}")
        return cls(
            start_step=int(data["start_step"]),
            total_steps=int(data["total_steps"]),
            peak_lr=float(data["peak_lr"]),
            spec=spec_from_dict(dict(data["spec"])),
            rewarm_steps=int(data.get("rewarm_steps", 0)),
            from_lr=None if data.get("from_lr") is None else float(data["from_lr"]),
        )


@dataclass(frozen=True)
class Plan:
    """Segments in increasing ``start_step``; the first starts at 0."""

    segments: tuple[Segment, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.segments or self.segments[0].start_step != 0:
            raise ValueError("a plan needs a first segment that starts at step 0")
        starts = [s.start_step for s in self.segments]
        if starts != sorted(set(starts)):
            raise ValueError(f"segment starts must increase strictly, got {starts}")

    @classmethod
    def single(cls, spec: ScheduleSpec, *, peak_lr: float, max_steps: int) -> Plan:
        """The plan of a fresh run."""
        return cls((Segment(0, max_steps, peak_lr, spec),))

    @property
    def base_lr(self) -> float:
        """The first segment's peak; ``factor`` is relative to it."""
        return self.segments[0].peak_lr

    @property
    def max_steps(self) -> int:
        """The step at which the run ends: the end of the last segment."""
        return self.segments[-1].end_step

    def segment_at(self, step: int) -> Segment:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        current = self.segments[0]
        for seg in self.segments[1:]:
            if seg.start_step > step:
                break
            current = seg
        return current

    def lr_at(self, step: int) -> float:
        """The LR that update ``step`` must use (param groups with ``lr_scale`` 1)."""
        return self.segment_at(step).lr_at(step)

    def factor(self, step: int) -> float:
        """``lr_at(step)`` relative to ``base_lr``, for torch's ``LambdaLR``."""
        return self.lr_at(step) / self.base_lr

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Write the LR of update ``step`` into every param group; return the plan's LR."""
        lr = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get(LR_SCALE_KEY, 1.0)
        return lr

    def replan(
        self,
        at_step: int,
        spec: ScheduleSpec,
        *,
        peak_lr: float,
        max_steps: int,
        rewarm_steps: int = 0,
        from_lr: float | None = None,
    ) -> Plan:
        """A plan that follows this one until ``at_step`` and ``spec`` from there on.

        The new segment counts its own clock from ``at_step`` and ends at ``max_steps``
        (absolute). With ``rewarm_steps > 0`` it bridges linearly from ``from_lr`` (default:
        the LR this plan applied at ``at_step - 1``, the last update before the resume).
        """
        if at_step <= 0:
            raise ValueError(f"replan needs at_step > 0, got {at_step}")
        if max_steps <= at_step:
            raise ValueError(f"max_steps={max_steps} must be > the resume step {at_step}")
        if from_lr is None:
            from_lr = self.lr_at(at_step - 1)
        kept = tuple(s for s in self.segments if s.start_step < at_step)
        new = Segment(at_step, max_steps - at_step, peak_lr, spec, rewarm_steps, from_lr)
        return Plan((*kept, new))

    def boundaries(self) -> list[tuple[str, int]]:
        """Named steps worth showing: segment starts, warmup ends, quarter points, end.

        A segment's marks stay inside the steps it governs: a segment cut short by a replan
        shows no warmup end or decay quarters that fall after the next segment starts.
        """
        marks: list[tuple[str, int]] = []
        for i, seg in enumerate(self.segments):
            last = i + 1 == len(self.segments)
            end = seg.end_step if last else min(seg.end_step, self.segments[i + 1].start_step)
            tag = f"segment {i + 1} " if len(self.segments) > 1 else ""
            seg_marks = [(f"{tag}start", seg.start_step)]
            if seg.rewarm_steps:
                seg_marks.append((f"{tag}end of rewarm", seg.start_step + seg.rewarm_steps))
            if seg.spec.warmup_steps:
                seg_marks.append((f"{tag}end of warmup", seg.start_step + seg.spec.warmup_steps))
            decay_from = seg.start_step + max(seg.spec.warmup_steps, seg.rewarm_steps)
            if end > decay_from:
                for q in (1, 2, 3):
                    step = decay_from + q * (end - decay_from) // 4
                    seg_marks.append((f"{tag}{q}/4 of decay", step))
            # The next segment's start is its own mark; ``end`` belongs to this one only last.
            marks.extend(m for m in seg_marks if m[1] < end or (last and m[1] <= end))
        marks.append(("end", self.max_steps))
        seen: set[int] = set()
        unique = []
        for name, step in sorted(marks, key=lambda m: m[1]):
            if step not in seen and step <= self.max_steps:
                seen.add(step)
                unique.append((name, step))
        return unique

    def describe(self) -> str:
        """One line per segment, for messages and reports."""
        return "; ".join(
            f"from step {s.start_step}: {s.spec.describe()} peak_lr={s.peak_lr:g} "
            f"until {s.end_step}"
            + (
                f" (rewarm {s.rewarm_steps} from {s.from_lr:g})"
                if s.rewarm_steps and s.from_lr is not None
                else ""
            )
            for s in self.segments
        )

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.segments]

    @classmethod
    def from_list(cls, data: Iterable[dict[str, Any]]) -> Plan:
        return cls(tuple(Segment.from_dict(d) for d in data))

    def to_json(self) -> str:
        return json.dumps(self.to_list())

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_list(json.loads(text))
