"""A checkpoint is checked as a whole before anything of it is restored.

``torch.load(weights_only=True)`` only says a file holds tensors and plain containers. A
checkpoint of another model size, with a missing weight, ``rng={}`` or ``step="twelve"``
loads fine and then fails half-way through ``restore`` with a long traceback. Here the file
is checked first, and the first mismatch is one line naming the file:

- ``check_structure``: every entry has the type and form ``capture`` writes (DESIGN §5);
  needs no config, so ``load_checkpoint`` runs it on every file it loads.
- ``check_fits``: every tensor has the shape of the model, EMA and optimizer that the run's
  config builds. The model is built on the meta device, so this costs no memory or time.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from unified_prior.config import RunConfig, config_from_dict
from unified_prior.data import DomainRegistry, LabelStats
from unified_prior.data.sampler import SAMPLER_KIND
from unified_prior.errors import InputError
from unified_prior.model import build_model
from unified_prior.schedules import Plan


class CheckpointMismatch(InputError):
    """A checkpoint that loads but cannot be restored (before it is named with its file)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tensor_dict(state: Any, key: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not state:
        raise CheckpointMismatch(f"'{key}' is {type(state).__name__}, not a state dict")
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise CheckpointMismatch(f"'{key}' entry {name!r} is {type(value).__name__}")
    return state


def check_structure(state: dict[str, Any]) -> None:
    """Raise ``CheckpointMismatch`` at the first entry ``capture`` would not have written."""
    if not _is_int(state["step"]) or state["step"] < 0:
        raise CheckpointMismatch(f"'step' is {state['step']!r}, not a step count")
    if not _is_int(state["format_version"]):
        raise CheckpointMismatch(f"'format_version' is {state['format_version']!r}")
    _tensor_dict(state["model"], "model")
    _tensor_dict(state["ema"], "ema")
    _check_optimizer_form(state["optimizer"])
    try:
        plan = Plan.from_list(state["plan"])
    except Exception as err:  # any malformed segment list
        raise CheckpointMismatch(f"'plan' is not a schedule plan ({_short(err)})") from None
    if not plan.segments:  # Plan refuses an empty list today; the check must not depend on it
        raise CheckpointMismatch("'plan' has no segments")
    if not isinstance(state["config"], dict):
        raise CheckpointMismatch(f"'config' is {type(state['config']).__name__}, not a table")
    try:
        config_from_dict(state["config"], source="'config'")
        LabelStats.from_dict(state["data_stats"])
    except Exception as err:  # InputError or a malformed statistics table
        raise CheckpointMismatch(_short(err)) from None
    _check_rng(state["rng"])
    _check_sampler(state["sampler"])
    _check_metrics(state["metrics"])
    world = state.get("world_size", 1)
    if not _is_int(world) or world < 1:
        raise CheckpointMismatch(f"'world_size' is {world!r}")


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


def _check_optimizer_form(opt: Any) -> None:
    if not isinstance(opt, dict) or not isinstance(opt.get("param_groups"), list):
        raise CheckpointMismatch("'optimizer' is not an optimizer state dict")
    if not isinstance(opt.get("state"), dict):
        raise CheckpointMismatch("'optimizer' has no per-parameter 'state' table")
    for i, group in enumerate(opt["param_groups"]):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list):
            raise CheckpointMismatch(f"'optimizer' param group {i} has no parameter list")
        if not all(_is_int(p) for p in group["params"]):
            raise CheckpointMismatch(f"'optimizer' param group {i} lists non-integer ids")
        for key in ("lr", "eps", "weight_decay"):
            if key in group and not _is_number(group[key]):
                raise CheckpointMismatch(f"'optimizer' param group {i} {key} is {group[key]!r}")
    for pid, entry in opt["state"].items():
        if not isinstance(entry, dict):
            raise CheckpointMismatch(f"'optimizer' state of parameter {pid!r} is not a table")


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, dict) or not _is_int(rng.get("seed")):
        raise CheckpointMismatch(f"'rng' is {_brief(rng)}, not {{'seed': int, 'torch': state}}")
    value = rng.get("torch")
    expected = torch.get_rng_state()
    if (
        not isinstance(value, torch.Tensor)
        or value.dtype != expected.dtype
        or value.shape != expected.shape
    ):
        got = (
            f"{value.dtype} {list(value.shape)}"
            if isinstance(value, torch.Tensor)
            else _brief(value)
        )
        raise CheckpointMismatch(
            f"'rng.torch' is {got}, not a torch RNG state ({expected.dtype} {list(expected.shape)})"
        )


def _check_sampler(sampler: Any) -> None:
    if not isinstance(sampler, dict) or sampler.get("kind") != SAMPLER_KIND:
        raise CheckpointMismatch(f"'sampler' is {_brief(sampler)}, not a {SAMPLER_KIND} state")
    for key in ("seed", "batch_size", "world_size", "n_tiles"):
        if not _is_int(sampler.get(key)):
            raise CheckpointMismatch(f"'sampler.{key}' is {sampler.get(key)!r}")
    if sampler["batch_size"] < 1 or sampler["world_size"] < 1:
        raise CheckpointMismatch(
            f"'sampler' has batch {sampler['batch_size']} on {sampler['world_size']} processes"
        )


def _check_metrics(metrics: Any) -> None:
    if not isinstance(metrics, dict):
        raise CheckpointMismatch(f"'metrics' is {_brief(metrics)}, not a table")
    for key in ("train_loss", "val_loss", "best_val_loss"):
        value = metrics.get(key)
        if value is not None and not _is_number(value):
            raise CheckpointMismatch(f"'metrics.{key}' is {value!r}")
    for key in ("best_step", "skipped_updates"):
        value = metrics.get(key)
        if value is not None and (not _is_int(value) or value < 0):
            raise CheckpointMismatch(f"'metrics.{key}' is {value!r}")
    best = metrics.get("best_val_loss")
    if best is not None and math.isnan(best):
        raise CheckpointMismatch("'metrics.best_val_loss' is NaN")


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{type(value).__name__} ({text[:30]}…)"


def check_fits(state: dict[str, Any], config: RunConfig) -> None:
    """Raise ``CheckpointMismatch`` at the first tensor whose shape is not the one the
    model, EMA or optimizer built from ``config`` has (``state`` passed ``check_structure``)."""
    registry = DomainRegistry.from_config(config.data)
    with torch.device("meta"):
        net = build_model(config.model, registry, config.data.resolution)
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    hint = _model_hint(state, config)
    for key in ("model", "ema"):
        stored = state[key]
        missing = [k for k in expected if k not in stored]
        if missing:
            raise CheckpointMismatch(f"'{key}' lacks {missing[0]}{hint}")
        extra = [k for k in stored if k not in expected]
        if extra:
            raise CheckpointMismatch(f"'{key}' has {extra[0]}, which this model has not{hint}")
        for name, shape in expected.items():
            if tuple(stored[name].shape) != shape:
                raise CheckpointMismatch(
                    f"'{key}.{name}' is {list(stored[name].shape)} in the file, "
                    f"{list(shape)} in the model{hint}"
                )
    _check_optimizer_fits(state["optimizer"], net, hint)


def _check_optimizer_fits(opt: dict[str, Any], net: torch.nn.Module, hint: str) -> None:
    from unified_prior.train.build import param_groups

    groups = param_groups(net)
    if len(opt["param_groups"]) != len(groups):
        raise CheckpointMismatch(
            f"'optimizer' has {len(opt['param_groups'])} param groups, the run {len(groups)}"
        )
    shapes: dict[int, tuple[int, ...]] = {}
    for i, (stored, params) in enumerate(zip(opt["param_groups"], groups, strict=True)):
        if len(stored["params"]) != len(params):
            raise CheckpointMismatch(
                f"'optimizer' param group {i} has {len(stored['params'])} parameters, the "
                f"model {len(params)}{hint}"
            )
        shapes.update(
            {pid: tuple(p.shape) for pid, p in zip(stored["params"], params, strict=True)}
        )
    for pid, entry in opt["state"].items():
        if pid not in shapes:
            raise CheckpointMismatch(f"'optimizer' has state for unknown parameter {pid!r}")
        for name, value in entry.items():
            if name == "step":
                continue
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != shapes[pid]:
                got = list(value.shape) if isinstance(value, torch.Tensor) else _brief(value)
                raise CheckpointMismatch(
                    f"'optimizer' {name} of parameter {pid} is {got}, the parameter "
                    f"{list(shapes[pid])}{hint}"
                )


def _model_hint(state: dict[str, Any], config: RunConfig) -> str:
    """Which model-shaping keys differ between the checkpoint's config and this one."""
    try:
        stored = config_from_dict(state["config"])
    except InputError:
        return ""
    pairs = [
        *(
            (f"model.{k}", getattr(stored.model, k), getattr(config.model, k))
            for k in ("channels", "channel_mult", "blocks_per_level", "attention_resolutions")
        ),
        ("data.resolution", stored.data.resolution, config.data.resolution),
        ("data.domains", list(stored.data.domains), list(config.data.domains)),
    ]
    diffs = [f"{k} {a} → {b}" for k, a, b in pairs if a != b]
    return f" (checkpoint config → this config: {'; '.join(diffs)})" if diffs else ""
