"""Typed run configuration: TOML file + ``--set section.key=value`` overrides.

Precedence is CLI over file over defaults. Every section rejects unknown keys at load time
with the key named and the nearest valid key suggested (nanoGPT's configurator, flax's
``lock_config``), before anything is written. A later feature adds its keys to its section
model here; loading, overriding and error reporting need no change.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import tomli_w
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from unified_prior.errors import InputError, write_error
from unified_prior.schedules import FAMILIES, AnySpec, CosineSpec, Plan


class Section(BaseModel):
    # allow_inf_nan=False: no key of a run has a meaning for NaN or infinity, and each one
    # that got through (a NaN p_mean, an infinite eps or sigma) trained to NaN silently.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _folder_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError("must be one folder name under data.root (no '/', '.' or '..')")
    return name


#: A folder name under data.root (a domain or a split): one path component, no traversal.
FolderName = Annotated[str, AfterValidator(_folder_name)]
#: An Adam beta: torch's AdamW refuses anything outside [0, 1) when the optimizer is built.
Beta = Annotated[float, Field(ge=0.0, lt=1.0)]


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
    domains: dict[FolderName, DomainConfig] = Field(default_factory=_default_domains, min_length=1)
    split_train: FolderName = "train"
    split_val: FolderName = "val"
    resolution: int = Field(default=128, ge=8)
    num_workers: int = Field(default=0, ge=0)
    balance_domains: bool = True


class ModelConfig(Section):
    channels: int = Field(default=128, ge=1)
    channel_mult: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [1, 2, 2, 2], min_length=1
    )
    blocks_per_level: int = Field(default=2, ge=1)
    attention_resolutions: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [16])
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    sigma_data: float = Field(default=0.5, gt=0.0)
    p_mean: float = -1.2
    p_std: float = Field(default=1.2, gt=0.0)


class OptimConfig(Section):
    learning_rate: float = Field(default=1e-4, gt=0.0)
    weight_decay: float = Field(default=1e-3, ge=0.0)
    betas: tuple[Beta, Beta] = (0.9, 0.999)
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
    sigmas: list[Annotated[float, Field(gt=0.0)]] = Field(
        default_factory=lambda: [0.05, 0.2, 0.5, 1.0, 2.0, 5.0], min_length=1
    )
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


def set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InputError(f"--set {'.'.join(path)}: {part!r} is a value, not a section")
        node = child
    node[path[-1]] = value


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load and validate a run config; raise ``InputError`` with a one-line message.

    The message blames the input that set the offending key: the ``--set`` item when one
    did, else the file (a typo on the command line is not the file's fault).
    """
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
    given = [(parse_override(item)[0], item) for item in overrides or []]
    for key_path, item in given:
        set_path(tree, key_path, parse_override(item)[1])
    _drop_foreign_schedule_defaults(tree, file_tree, overrides or [])
    fallback = str(path) if path else "config"

    def blame(keys: Sequence[str]) -> str:
        for key_path, item in reversed(given):  # the last --set of a key is the one in effect
            n = min(len(key_path), len(keys))
            if n and list(keys[:n]) == key_path[:n]:
                return f"--set {item}"
        return fallback

    return config_from_dict(tree, source=blame)


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


def config_from_dict(
    tree: dict[str, Any], source: str | Callable[[Sequence[str]], str] = "config"
) -> RunConfig:
    """Validate a nested dict (e.g. a checkpoint's stored config) into a ``RunConfig``.

    ``source`` names the input in the message: a string, or a function of the offending
    key's path (``load_config`` uses it to blame a ``--set`` item rather than the file).
    """
    name = source if callable(source) else (lambda _keys: source)
    try:
        config = RunConfig.model_validate(tree)
    except ValidationError as err:
        keys, message = first_problem(err, tree)
        raise InputError(f"{name(keys)}: {message}") from None
    # A config that loads must also run: build its plan now (e.g. learning_rate=inf passes
    # the field's bounds but no plan can use it) so the failure is a named input error.
    try:
        config.plan()
    except ValueError as err:
        raise InputError(f"{name(['optim', 'learning_rate'])}: {err}") from None
    return config


def describe_validation_error(err: ValidationError) -> str:
    """The first problem of a pydantic error as one line naming the dotted key."""
    return first_problem(err)[1]


def first_problem(
    err: ValidationError, tree: dict[str, Any] | None = None
) -> tuple[list[str], str]:
    """The key path of a pydantic error's first problem and a one-line message; ``tree``,
    the validated input, lets an item's error show the whole list it is in."""
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
        return keys, f"unknown key '{dotted}'; {hint}"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "union_tag_invalid":
        return keys, f"unknown schedule.kind; choose one of {', '.join(sorted(FAMILIES))}"
    if not dotted:
        return keys, msg
    if keys[-1] == "[key]":  # a free key of a table (a domain name) is what is wrong
        keys = keys[:-1]
        return keys, f"{'.'.join(keys[:-1])}: key {keys[-1]!r} {msg}"
    if first["type"] == "missing":
        if keys[-1].isdigit():
            return keys, f"{'.'.join(keys[:-1])}: needs an item {keys[-1]} (too few values)"
        return keys, f"{dotted}: required key missing"
    # An item of a list or tuple (optim.betas.0) is shown as the whole value with its index.
    head = [k for k in keys if not k.isdigit()]
    index = [k for k in keys if k.isdigit()]
    where = f" (item {index[-1]})" if index else ""
    value = _lookup(tree, head) if index and tree is not None else first.get("input")
    return keys, f"{'.'.join(head)}={value!r}{where}: {msg}"


def _lookup(tree: dict[str, Any], keys: list[str]) -> Any:
    """The value given at ``keys`` (pydantic reports only the failing item of a list)."""
    node: Any = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return "…"
        node = node[key]
    return node


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
    text = config.to_toml()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise write_error(err, path, needed_bytes=len(text.encode())) from None
