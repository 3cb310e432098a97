"""Typed run configuration: TOML file + ``--set section.key=value`` overrides.

Precedence is CLI over file over defaults. Every section rejects unknown keys at load time
with the key named and the nearest valid key suggested (nanoGPT's configurator, flax's
``lock_config``), before anything is written. A later feature adds its keys to its section
model here; loading, overriding and error reporting need no change.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from unified_prior.errors import InputError
from unified_prior.schedules import FAMILIES, AnySpec, CosineSpec, Plan


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DomainConfig(Section):
    """One imaging domain: its channel count and the sensor it was recorded with."""

    channels: int = Field(ge=1, le=16)
    scale: float = Field(gt=0, description="sensor full-scale, in electrons")
    read_noise: float = Field(gt=0, description="read noise, in electrons")
    background: float = Field(ge=0, description="background level, in electrons")


def _default_domains() -> dict[str, DomainConfig]:
    # The sensor values of the original unified-prior run.
    return {
        "photography": DomainConfig(channels=4, scale=10000, read_noise=3, background=0),
        "microscopy": DomainConfig(channels=1, scale=5000, read_noise=2, background=0),
        "astronomy": DomainConfig(channels=1, scale=50000, read_noise=1, background=0),
    }


class DataConfig(Section):
    root: str = "data/sample"
    domains: dict[str, DomainConfig] = Field(default_factory=_default_domains, min_length=1)
    split_train: str = "train"
    split_val: str = "val"
    resolution: int = Field(default=128, ge=8)
    num_workers: int = Field(default=0, ge=0)
    balance_domains: bool = True


class ModelConfig(Section):
    channels: int = Field(default=128, ge=1)
    channel_mult: list[int] = Field(default_factory=lambda: [1, 2, 2, 2], min_length=1)
    blocks_per_level: int = Field(default=2, ge=1)
    attention_resolutions: list[int] = Field(default_factory=lambda: [16])
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    sigma_data: float = Field(default=0.5, gt=0.0)
    p_mean: float = -1.2
    p_std: float = Field(default=1.2, gt=0.0)


class OptimConfig(Section):
    learning_rate: float = Field(default=1e-4, gt=0.0)
    weight_decay: float = Field(default=1e-3, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(default=1e-8, gt=0.0)
    grad_clip_norm: float = Field(default=1.0, ge=0.0, description="0 disables clipping")


ScheduleConfig = Annotated[AnySpec, Field(discriminator="kind")]


class TrainConfig(Section):
    max_steps: int = Field(default=450_000, gt=0)
    batch_size: int = Field(default=32, ge=1, description="per process, per micro-batch")
    grad_accum_steps: int = Field(default=2, ge=1)
    precision: Literal["fp32", "bf16"] = "bf16"
    ema_halflife_steps: int = Field(default=2000, ge=1)
    ema_rampup_ratio: float = Field(default=0.05, ge=0.0)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compile: Literal["off", "default", "max-autotune"] = Field(
        default="off", description="torch.compile mode of the denoiser and loss; off = eager"
    )


class CheckpointConfig(Section):
    every_steps: int = Field(default=5000, ge=1)
    keep_last: int = Field(default=3, ge=1)
    keep_best: bool = True


class EvalConfig(Section):
    every_steps: int = Field(default=5000, ge=1)
    sigmas: list[float] = Field(default_factory=lambda: [0.05, 0.2, 0.5, 1.0, 2.0, 5.0])
    tiles_per_domain: int = Field(default=32, ge=1)
    seed: int = 0


class LogConfig(Section):
    every_steps: int = Field(default=100, ge=1)
    tensorboard: bool = True
    progress: Literal["auto", "rich", "plain", "off"] = "auto"


class RunConfig(Section):
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(
        default_factory=lambda: CosineSpec(
            warmup_steps=20_000, warmup_start_factor=0.01, min_lr_ratio=0.01
        )
    )
    train: TrainConfig = Field(default_factory=TrainConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    @model_validator(mode="after")
    def _schedule_fits_run(self) -> RunConfig:
        warmup, total = self.schedule.warmup_steps, self.train.max_steps
        try:
            self.schedule.check_length(total)
        except ValueError:
            raise ValueError(
                f"schedule.warmup_steps={warmup} must be < train.max_steps={total}; "
                "lower schedule.warmup_steps or raise train.max_steps"
            ) from None
        return self

    def plan(self) -> Plan:
        """The LR plan of a fresh run of this config."""
        return Plan.single(
            self.schedule, peak_lr=self.optim.learning_rate, max_steps=self.train.max_steps
        )

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


SECTIONS = tuple(RunConfig.model_fields)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``section.key=value`` → (path, value); the value is read as TOML, else a string."""
    key, sep, raw = item.partition("=")
    path = [part.strip() for part in key.strip().split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise InputError(f"--set {item!r}: expected section.key=value, e.g. train.max_steps=1000")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # bare words such as `cosine` are strings
    return path, value


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InputError(f"--set {'.'.join(path)}: {part!r} is a value, not a section")
        node = child
    node[path[-1]] = value


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load and validate a run config; raise ``InputError`` with a one-line message."""
    file_tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            file_tree = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"config {path}: no such file; pass --config FILE") from None
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"config {path}: cannot read it ({err})") from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"config {path}: not valid TOML ({err})") from None
    tree = _merge_sections(RunConfig().to_dict(), file_tree)
    for item in overrides or []:
        key_path, value = parse_override(item)
        _set_path(tree, key_path, value)
    _drop_foreign_schedule_defaults(tree, file_tree, overrides or [])
    return config_from_dict(tree, source=str(path) if path else "config")


def _merge_sections(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid by a file: sections merge key by key; any other value, including a
    free-key table such as ``data.domains``, is replaced whole (a file listing two domains
    means two domains)."""
    merged = dict(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key in SECTIONS:
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _drop_foreign_schedule_defaults(
    tree: dict[str, Any], file_tree: dict[str, Any], overrides: list[str]
) -> None:
    """When the schedule kind changes, keep only the default keys the new family has."""
    schedule = tree.get("schedule")
    if not isinstance(schedule, dict) or schedule.get("kind") not in FAMILIES:
        return
    given = set(
        file_tree.get("schedule", {}) if isinstance(file_tree.get("schedule"), dict) else {}
    )
    given |= {p[1] for p in (parse_override(o)[0] for o in overrides) if p[0] == "schedule"}
    fields = FAMILIES[schedule["kind"]].model_fields
    for key in list(schedule):
        if key not in fields and key not in given:
            del schedule[key]


def config_from_dict(tree: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a nested dict (e.g. a checkpoint's stored config) into a ``RunConfig``."""
    try:
        config = RunConfig.model_validate(tree)
    except ValidationError as err:
        raise InputError(f"{source}: {describe_validation_error(err)}") from None
    # A config that loads must also run: build its plan now (e.g. learning_rate=inf passes
    # the field's bounds but no plan can use it) so the failure is a named input error.
    try:
        config.plan()
    except ValueError as err:
        raise InputError(f"{source}: {err}") from None
    return config


def describe_validation_error(err: ValidationError) -> str:
    """The first problem of a pydantic error as one line naming the dotted key."""
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    keys, model = _strip_tags(loc)
    dotted = ".".join(keys)
    if first["type"] == "extra_forbidden":
        valid = sorted(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(keys[-1], valid, n=1, cutoff=0.5)
        prefix = ".".join(keys[:-1])
        hint = (
            f"did you mean '{prefix + '.' if prefix else ''}{close[0]}'?"
            if close
            else f"valid keys here: {', '.join(valid)}"
        )
        return f"unknown key '{dotted}'; {hint}"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "union_tag_invalid":
        return f"unknown schedule.kind; choose one of {', '.join(sorted(FAMILIES))}"
    if not dotted:
        return msg
    return f"{dotted}={first.get('input')!r}: {msg}"


def _strip_tags(loc: list[str]) -> tuple[list[str], type[BaseModel] | None]:
    """Drop pydantic's union tags from an error location; find the model holding the last key."""
    keys: list[str] = []
    model: type[BaseModel] | None = RunConfig
    parts = iter(loc[:-1])
    for part in parts:
        keys.append(part)
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            model = None
            continue
        annotation = field.annotation
        if get_origin(annotation) is dict:  # dict[str, Model]: the next part is a free key
            keys.append(next(parts, ""))
            annotation = get_args(annotation)[1]
        if part == "schedule":
            tag = next(parts, None)  # the discriminator tag is not a key the user wrote
            model = FAMILIES.get(tag) if tag is not None else None
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            model = None
    keys.append(loc[-1] if loc else "")
    return [k for k in keys if k], model


def write_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config (every key, defaults included) as TOML."""
    path.write_text(config.to_toml(), encoding="utf-8")
