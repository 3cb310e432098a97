"""The declared schedule: what the run said its LR would be, as a ``schedules.Plan``.

Sources, most authoritative first: ``--expect`` on the command line; our ``metrics.jsonl``
header (the last one: a ``replan`` resume writes a new plan); the ``plan`` stored in our
checkpoints; then config dicts (inside checkpoints, or JSON/YAML/TOML files beside the
logs) whose keys name a schedule the way common trainers do (``lr_scheduler``,
``lr_scheduler_type``, ``warmup_steps``, ``learning_rate``, ``max_steps``, ``min_lr`` …).
Keys a config leaves out get the project defaults (warmup from 1 %, floor 1 % of peak), and
the report lists each such assumption.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from unified_prior.doctor.evidence import Evidence, as_float, as_step
from unified_prior.errors import InputError
from unified_prior.schedules import FAMILIES, Plan, spec_from_dict

#: Defaults for keys a foreign config leaves out: the project's (DESIGN §3), which are also
#: what the original run's hand analysis proposed (``start_factor=0.01``, ``eta_min`` 1 %).
DEFAULT_WARMUP_START_FACTOR = 0.01
DEFAULT_MIN_LR_RATIO = 0.01

_KIND_KEYS = (
    "lr_scheduler_type",
    "lr_scheduler",
    "scheduler_type",
    "scheduler",
    "lr_schedule",
    "schedule",
    "lr_decay_style",
    "decay_style",
    "sched",
    "scheduler_name",
)
_PEAK_KEYS = ("learning_rate", "lr", "peak_lr", "base_lr", "max_lr", "max_learning_rate")
_WARMUP_KEYS = (
    "warmup_steps",
    "num_warmup_steps",
    "warmup_iters",
    "lr_warmup_steps",
    "lr_warmup_iters",
    "warmup_updates",
    "warmup",
)
_MAX_KEYS = (
    "max_steps",
    "total_steps",
    "num_training_steps",
    "max_iters",
    "train_iters",
    "lr_decay_iters",
    "lr_decay_steps",
    "total_iters",
    "num_steps",
    "train_steps",
    "max_updates",
    "total_updates",
)
_FLOOR_RATIO_KEYS = (
    "min_lr_ratio",
    "min_lr_rate",
    "final_lr_ratio",
    "lr_min_ratio",
    "alpha_f",
    "final_div_ratio",
)
_FLOOR_ABS_KEYS = ("min_lr", "eta_min", "lr_min", "final_lr", "min_learning_rate")
_START_RATIO_KEYS = (
    "warmup_start_factor",
    "start_factor",
    "warmup_init_ratio",
    "warmup_lr_rate",
    "warmup_ratio_start",
)
_START_ABS_KEYS = ("warmup_lr_init", "warmup_init_lr", "warmup_start_lr")
_ACCUM_KEYS = (
    "grad_accum_steps",
    "gradient_accumulation_steps",
    "accumulate_grad_batches",
    "grad_accum",
    "accum_steps",
    "gradient_accumulation",
)
_KIND_WORDS = (
    ("inverse_sqrt", ("inverse_sqrt", "inv_sqrt", "rsqrt", "inversesqrt", "inverse_square_root")),
    ("wsd", ("wsd", "warmup_stable_decay", "trapezoid", "stable")),
    ("cosine", ("cosine", "cos")),
    ("linear", ("linear", "polynomial", "poly")),
    ("constant", ("constant", "const", "none", "fixed", "flat")),
)


@dataclass(frozen=True)
class Defaults:
    """What a framework does for the schedule keys a config leaves out."""

    convention: str
    warmup_start_factor: float
    min_lr_ratio: float
    why: str


#: The project's own defaults (DESIGN §3), for configs of no known framework.
PROJECT_DEFAULTS = Defaults(
    "generic", DEFAULT_WARMUP_START_FACTOR, DEFAULT_MIN_LR_RATIO, "project default"
)


@dataclass
class Declared:
    """The declared schedule, where it came from, and what had to be assumed."""

    plan: Plan | None
    source: str
    kind: str | None = None
    assumed: list[str] = field(default_factory=list)
    grad_accum_steps: int | None = None
    problem: str | None = None
    #: The clock the plan counts: optimizer ``step`` or ``epoch`` (YOLO, DETR, torchvision).
    unit: str = "step"
    #: The framework whose conventions filled the plan (``hf``, ``yolo``, ``detectron2`` …).
    convention: str = "generic"
    #: Logged LR may lag the plan by this many steps (HF's AMP skips the scheduler step on
    #: overflow; YOLOv8 numbers epochs from 1): matched within ±slack.
    step_slack: int = 1
    #: Observations before this point are not comparable (YOLO warms up per iteration but
    #: logs per epoch, with a batch count the logs do not give).
    compare_from: int = 0
    #: Also skip the LR's own initial climb (YOLO warms up over max(warmup_epochs × batches,
    #: 100) iterations: on a small dataset that is more epochs than ``warmup_epochs``).
    skip_observed_warmup: bool = False
    #: False when the framework picks the peak itself (YOLOv8 ``optimizer: auto``): only
    #: the shape is compared, the scale is read off the log.
    peak_known: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "unit": self.unit,
            "convention": self.convention,
            "plan": self.plan.to_list() if self.plan else None,
            "describe": self.plan.describe() if self.plan else None,
            "assumed": self.assumed,
            "grad_accum_steps": self.grad_accum_steps,
            "problem": self.problem,
            "peak_known": self.peak_known,
        }


def kind_from_text(text: str) -> str | None:
    """``"cosine_with_min_lr"`` → ``cosine``; ``"WarmupStableDecay"`` → ``wsd``; else None."""
    flat = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", text.strip()).lower().replace("-", "_")
    if flat in ("warmupstabledecay",):
        return "wsd"
    for kind, words in _KIND_WORDS:
        if any(
            flat == w or flat.startswith(w + "_") or f"_{w}" in flat or flat.startswith(w)
            for w in words
        ):
            return kind
    return None


#: A config has a few thousand keys at most; YAML aliases can make a small file a tree of
#: billions of leaves ("billion laughs"), so the walk stops here, and at this depth.
MAX_LEAVES = 20_000
MAX_DEPTH = 12


def _leaves(
    data: Mapping[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(key path, value) of every leaf, breadth-limited and depth-limited."""
    count = 0
    stack: list[tuple[Mapping[str, Any], tuple[str, ...]]] = [(data, path)]
    while stack:
        mapping, prefix = stack.pop(0)
        for key, value in mapping.items():
            count += 1
            if count > MAX_LEAVES:
                return
            if isinstance(value, Mapping):
                if len(prefix) < MAX_DEPTH:
                    stack.append((value, (*prefix, str(key).lower())))
            else:
                yield (*prefix, str(key).lower()), value


def _flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """Leaf key → value (first occurrence wins); a ``schedule.kind``-style key becomes a kind."""
    flat: dict[str, Any] = {}
    for path, value in _leaves(data):
        key = path[-1]
        parent = path[-2] if len(path) > 1 else ""
        if key in ("kind", "name", "type") and parent in _KIND_KEYS:
            key = "lr_scheduler"
        if key == "lr" and parent not in ("", "optim", "optimizer", "training", "train"):
            continue  # e.g. a nested "warmup": {"lr": ...} is not the peak
        flat.setdefault(key, value)
    return flat


def _first(flat: Mapping[str, Any], keys: tuple[str, ...], convert: Any) -> tuple[Any, str | None]:
    for key in keys:
        if key in flat:
            value = convert(flat[key])
            if value is not None:
                return value, key
    return None, None


def plan_from_config(
    data: Mapping[str, Any], source: str, defaults: Defaults = PROJECT_DEFAULTS
) -> Declared | None:
    """The schedule a config dict declares, or None if it names no schedule at all; keys it
    leaves out take ``defaults`` (the framework's, else the project's) and are listed."""
    flat = _flatten(data)
    kind_text, _ = _first(flat, _KIND_KEYS, lambda v: v if isinstance(v, str) else None)
    peak, _ = _first(flat, _PEAK_KEYS, as_float)
    warmup, _ = _first(flat, _WARMUP_KEYS, as_step)
    max_steps, _ = _first(flat, _MAX_KEYS, as_step)
    accum, _ = _first(flat, _ACCUM_KEYS, as_step)
    if kind_text is None and warmup is None:
        return None
    declared = Declared(
        plan=None, source=source, grad_accum_steps=accum or None, convention=defaults.convention
    )
    kind = kind_from_text(kind_text) if kind_text else "constant"
    if kind_text is None:
        declared.assumed.append("no scheduler named: constant after warmup")
    declared.kind = kind or kind_text
    if kind is None:
        declared.problem = f"schedule {kind_text!r} has no closed form here"
        return declared
    ratio = as_float(flat.get("warmup_ratio"))
    if warmup is None and ratio is not None and max_steps:
        warmup = round(ratio * max_steps)
    values: dict[str, Any] = {"kind": kind, "warmup_steps": warmup or 0}
    if warmup is None:
        declared.assumed.append("warmup_steps=0 (not declared)")
    if peak is None or not (math.isfinite(peak) and peak > 0):
        declared.problem = "no learning rate declared"
        return declared
    start, _ = _first(flat, _START_RATIO_KEYS, as_float)
    if start is None:
        start_abs, _ = _first(flat, _START_ABS_KEYS, as_float)
        start = start_abs / peak if start_abs is not None else None
    if start is None and values["warmup_steps"]:
        start = defaults.warmup_start_factor
        declared.assumed.append(f"warmup_start_factor={start:g} ({defaults.why})")
    if start is not None:
        values["warmup_start_factor"] = start
    fields = FAMILIES[kind].model_fields
    if "min_lr_ratio" in fields:
        floor, _ = _first(flat, _FLOOR_RATIO_KEYS, as_float)
        if floor is None:
            floor_abs, _ = _first(flat, _FLOOR_ABS_KEYS, as_float)
            floor = floor_abs / peak if floor_abs is not None else None
        if floor is None:
            floor = defaults.min_lr_ratio
            declared.assumed.append(f"min_lr_ratio={floor:g} ({defaults.why})")
        values["min_lr_ratio"] = floor
    for extra in ("ref_steps", "decay_fraction", "decay_shape"):
        if extra in fields and extra in flat:
            values[extra] = flat[extra]
    if max_steps is None:
        declared.problem = "no max_steps declared: the plan's length is unknown"
        return declared
    try:
        spec = spec_from_dict(values)
        declared.plan = Plan.single(spec, peak_lr=peak, max_steps=max_steps)
    except ValueError as err:
        declared.problem = f"declared schedule is invalid: {str(err).splitlines()[0]}"
    return declared


_EXPECT_ALIASES = {
    "lr": "learning_rate",
    "learning_rate": "learning_rate",
    "peak_lr": "learning_rate",
    "warmup": "warmup_steps",
    "warmup_steps": "warmup_steps",
    "max_steps": "max_steps",
    "steps": "max_steps",
    "total_steps": "max_steps",
    "min_lr_ratio": "min_lr_ratio",
    "floor": "min_lr_ratio",
    "warmup_start_factor": "warmup_start_factor",
    "from": "warmup_start_factor",
    "start_factor": "warmup_start_factor",
    "grad_accum": "grad_accum_steps",
    "grad_accum_steps": "grad_accum_steps",
    "accum": "grad_accum_steps",
    "ref_steps": "ref_steps",
    "decay_fraction": "decay_fraction",
    "decay_shape": "decay_shape",
}


def _number(text: str) -> float:
    token = text.strip().lower().replace("_", "")
    scale = {"k": 1e3, "m": 1e6}.get(token[-1:], 1.0)
    return float(token[:-1] if scale != 1.0 else token) * scale


def parse_expect(text: str, defaults: Defaults = PROJECT_DEFAULTS) -> Declared:
    """``"cosine lr=1e-4 warmup=20000 max_steps=450000 min_lr_ratio=0.01"`` → ``Declared``.

    Keys left out take ``defaults``: the conventions of the framework that wrote the run
    (HF warms up from 0 and decays to 0), else the project's."""
    tokens = text.split()
    if not tokens or "=" in tokens[0]:
        raise InputError(
            f"--expect {text!r}: start with the schedule kind, e.g. "
            "'cosine lr=1e-4 warmup=20000 max_steps=450000'"
        )
    config: dict[str, Any] = {"lr_scheduler": tokens[0]}
    if kind_from_text(tokens[0]) is None:
        raise InputError(
            f"--expect: unknown schedule kind {tokens[0]!r}; "
            f"choose one of {', '.join(sorted(FAMILIES))}"
        )
    for token in tokens[1:]:
        key, sep, raw = token.partition("=")
        name = _EXPECT_ALIASES.get(key.strip().lower())
        if not sep or name is None:
            raise InputError(
                f"--expect: {token!r} is not one of "
                f"{', '.join(sorted(set(_EXPECT_ALIASES)))} as key=value"
            )
        if name == "decay_shape":
            config[name] = raw
            continue
        try:
            config[name] = _number(raw)
        except ValueError:
            raise InputError(f"--expect: {key}={raw!r} is not a number") from None
    for key in ("warmup_steps", "max_steps", "grad_accum_steps", "ref_steps"):
        if key in config:
            config[key] = int(config[key])
    config.setdefault("warmup_steps", 0)
    declared = plan_from_config(config, "--expect", defaults)
    assert declared is not None  # a kind was given
    if declared.problem:
        raise InputError(f"--expect {text!r}: {declared.problem}")
    return declared


def find_declared(evidence: Evidence, expect: str | None = None) -> Declared | None:
    """The declared schedule from the most authoritative source that has one: ``--expect``
    (with the detected framework's defaults for what it leaves out), our metrics header,
    plans in our checkpoints, a framework's own files (``doctor/conventions``), then any
    config with schedule keys."""
    from unified_prior.doctor.conventions import Found, declared_from_conventions, detected

    found = Found(evidence)
    if expect:
        convention = detected(evidence, found)
        typed = parse_expect(expect, convention.defaults if convention else PROJECT_DEFAULTS)
        if convention is not None:
            typed.convention = convention.name
            typed.step_slack = convention.step_slack
        # The numbers typed count the log's own clock (epochs for a YOLO results.csv).
        clock = getattr(evidence, "step_unit", "step")
        typed.unit = clock if clock in ("step", "epoch") else "step"
        return typed
    for header in reversed(evidence.headers):
        if header.plan:
            declared = _from_plan_list(header.plan, f"metrics header ({header.source})")
            if declared is not None:
                if header.config:
                    accum = _first(_flatten(header.config), _ACCUM_KEYS, as_step)[0]
                    declared.grad_accum_steps = accum or None
                return declared
    for ckpt in sorted(
        (c for c in evidence.usable_checkpoints if c.plan), key=lambda c: c.step or 0, reverse=True
    ):
        assert ckpt.plan is not None
        declared = _from_plan_list(ckpt.plan, f"plan stored in {ckpt.path.name}")
        if declared is not None:
            return declared
    framework = declared_from_conventions(evidence, found)
    if framework is not None and framework.plan is not None:
        return framework
    partial: Declared | None = None
    # Checkpoint configs first (they are what the run was started with), then files beside.
    ordered = sorted(evidence.configs, key=lambda sc: not sc[0].endswith((".pt", ".pth", ".ckpt")))
    merged_extra: dict[str, Any] = {}
    for source, data in ordered:
        if set(data) <= _RUN_STATE_KEYS:
            merged_extra.update(data)  # HF trainer_state records max_steps alone
            continue
        declared = plan_from_config(
            {**merged_extra, **_without(data, _RUN_STATE_KEYS)}, f"config in {source}"
        )
        if declared is None:
            continue
        if declared.plan is not None:
            return declared
        partial = partial or declared
    return framework or partial


#: Run-state facts (HF trainer_state.json) that complete a config but declare nothing.
_RUN_STATE_KEYS = frozenset(
    {
        "max_steps",
        "best_model_checkpoint",
        "best_metric",
        "num_train_epochs",
        "logging_steps",
        "eval_steps",
        "save_steps",
        "train_batch_size",
        "global_step",
    }
)


def _without(data: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys or k == "max_steps"}


def _from_plan_list(plan: list[dict[str, Any]], source: str) -> Declared | None:
    try:
        built = Plan.from_list(plan)
    except (ValueError, KeyError, TypeError):
        return None
    return Declared(plan=built, source=source, kind=built.segments[-1].spec.kind)
