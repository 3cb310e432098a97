"""Names of the library objects the model recognises (optimizers, schedulers, loggers,
storage sinks, frameworks). Data only: the model and the rules read these sets."""

from __future__ import annotations

import re

OPTIMIZER_CLASSES = frozenset(
    {
        "SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam",
        "LBFGS", "SparseAdam", "Rprop", "ASGD", "Adafactor", "Lion", "LAMB", "Lamb",
        "FusedAdam", "FusedLAMB", "AdamW8bit", "Adam8bit", "PagedAdamW", "PagedAdamW8bit",
        "Muon", "Adan", "Prodigy", "SophiaG", "Shampoo", "ZeroRedundancyOptimizer",
    }
)  # fmt: skip

OPTIMIZER_FACTORIES = frozenset(
    {"create_optimizer", "create_optimizer_v2", "build_optimizer", "get_optimizer"}
)

TORCH_SCHEDULERS = frozenset(
    {
        "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
        "ExponentialLR", "SequentialLR", "PolynomialLR", "CosineAnnealingLR", "ChainedScheduler",
        "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "SWALR",
    }
)  # fmt: skip

#: Schedulers that own other schedulers: the children are stepped through them.
COMPOSITE_SCHEDULERS = frozenset({"SequentialLR", "ChainedScheduler"})

TIMM_SCHEDULERS = frozenset(
    {
        "create_scheduler", "create_scheduler_v2", "CosineLRScheduler", "StepLRScheduler",
        "MultiStepLRScheduler", "PlateauLRScheduler", "TanhLRScheduler", "PolyLRScheduler",
    }
)  # fmt: skip

#: transformers/diffusers factories: ``get_cosine_schedule_with_warmup``, ``get_wsd_schedule``,
#: ``get_cosine_with_hard_restarts_schedule_with_warmup``. Not ``get_scheduler_class`` & co.
HF_SCHEDULE = re.compile(r"^get_\w+_schedule(_with_warmup)?$")

#: Calls whose arguments are only recorded (printed, logged, serialised), never applied.
LOG_FUNCS = frozenset({"print", "pprint", "echo", "secho"})

LOG_METHODS = frozenset(
    {
        "info", "debug", "warning", "warn", "error", "critical", "exception", "log",
        "set_description", "set_postfix", "set_postfix_str", "add_scalar", "add_scalars",
        "add_text", "add_hparams", "log_metrics", "log_hyperparams", "log_dict", "write",
        "print", "echo",
    }
)  # fmt: skip

#: Receivers whose logging-like methods only record text: ``logger.info``, ``writer.add_scalar``.
LOG_BASE_PARTS = ("log", "writer", "console", "wandb", "mlflow", "pbar", "tqdm", "progress")

LOG_BASES = frozenset(
    {"tb", "f", "fh", "fp", "file", "out", "stdout", "stderr", "warnings", "accelerator",
     "rich", "typer", "click", "run", "experiment", "tracker", "trackers"}
)  # fmt: skip

STORE_SINKS = frozenset(
    {"torch.save", "json.dump", "json.dumps", "yaml.dump", "yaml.safe_dump", "wandb.init",
     "OmegaConf.save", "toml.dump", "tomli_w.dump", "pickle.dump"}
)  # fmt: skip

#: Keywords of logging/saving calls that carry recorded data, not settings of the call.
DATA_KEYWORDS = frozenset({"config", "hparams", "params", "metrics", "extra", "obj", "msg"})

#: Calls that pass their argument's value through (the result carries the same meaning).
TRANSPARENT = frozenset(
    {"int", "float", "str", "bool", "round", "abs", "max", "min", "vars", "dict", "copy",
     "deepcopy", "copy.copy", "copy.deepcopy", "math.ceil", "math.floor", "list", "tuple"}
)  # fmt: skip

#: Helper names that, by convention, write the LR into param groups.
LR_SETTERS = frozenset({"set_lr", "adjust_learning_rate", "update_lr", "set_learning_rate"})

#: Names of config containers: ``config``, ``cfg``, ``train_config``, ``hparams``,
#: ``training_args``, ``config_dict``; not ``arc_option_map`` or ``param_groups``.
CONFIG_NAME = re.compile(
    r"(^|_)(config|cfg|conf|hparams?|hyper_?params?|hyperparameters|settings|options|args|"
    r"params|hp)$|^(config|cfg|conf|hparams?)(_|$)",
    re.I,
)

CONFIG_CLASS = re.compile(r"config|cfg|args|arguments|params|settings|options|hparams", re.I)

OPTIMIZER_NAME = re.compile(r"^(opt|optim|optimizer|optimiser)$|optimizer|optimiser|_opt$", re.I)

ACCUM_TOKEN = re.compile(r"accum|sync_gradients|micro", re.I)

#: Library base classes whose own code never reads a subclass's attributes by name (so
#: ``self.config`` of such a subclass stays ours to judge). ``LightningModule`` reads only
#: what ``configure_optimizers`` returns (handled there), not ``self.scheduler``.
INERT_BASES = frozenset(
    {"Module", "LightningModule", "Dataset", "IterableDataset", "ABC", "Generic", "Protocol",
     "Enum", "Exception", "nn.Module"}
)  # fmt: skip

#: torch's scheduler base classes: a class defined in the audited code that derives from one
#: is a scheduler like torch's own (stepped, with state to save).
SCHEDULER_BASES = frozenset({"LRScheduler", "_LRScheduler"})
#: A project's own scheduler factory or class, recognised by its name when it is given an
#: optimizer: ``get_scheduler``, ``build_lr_scheduler``, ``PolynomialLRWarmup``, ``WarmupCosine``.
PROJECT_SCHEDULER = re.compile(
    r"^(get|build|create|make|setup|init)_\w*(sched|schedule|scheduler)s?$|"
    r"(Scheduler|Schedule|LR|LRWarmup|Warmup\w*)$",
)

#: A function parameter named as an LR scheduler (``scheduler``, ``lr_scheduler``,
#: ``sched``): one argument, not a dict or list of them (``schedulers``).
SCHEDULER_PARAMETER = re.compile(r"^(lr_)?(sched|scheduler)$")


def library_scheduler(qual: str) -> tuple[str, str] | None:
    """(name, family) for a scheduler of torch, transformers/diffusers, timm or ours."""
    name = qual.rsplit(".", 1)[-1]
    if name in TORCH_SCHEDULERS:
        return name, "torch"
    if HF_SCHEDULE.match(name) or (
        name == "get_scheduler" and ("transformers" in qual or "diffusers" in qual)
    ):
        return name, "hf"
    if name in TIMM_SCHEDULERS:
        return name, "timm"
    if name == "to_lambda_lr":
        return name, "ours"
    return None


#: Framework trainers that run the optimization loop themselves (HF, TRL, Lightning, ...).
FRAMEWORK_TRAINERS = frozenset(
    {"Trainer", "Seq2SeqTrainer", "SFTTrainer", "DPOTrainer", "PPOTrainer", "RewardTrainer",
     "ORPOTrainer", "KTOTrainer", "GRPOTrainer", "TrainingArguments", "Seq2SeqTrainingArguments",
     "SFTConfig", "DPOConfig", "GRPOConfig"}
)  # fmt: skip
FRAMEWORK_PACKAGES = (
    "transformers.", "trl.", "lightning.", "pytorch_lightning.", "accelerate.", "composer.",
    "ignite.", "mmengine.", "mmcv.", "detectron2.", "ultralytics.", "sentence_transformers.",
    "setfit.", "peft.", "fairseq.", "pytorch_accelerated.", "catalyst.", "fastai.",
)  # fmt: skip
