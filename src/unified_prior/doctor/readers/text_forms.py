"""The line forms of printed training logs, one parser each; ``text_log`` tries them in turn.

Every parser takes one line (its timestamp/logger prefix removed) and returns a ``Line`` or
None when the form does not match. Keys still go through the shared ``keys`` mapping.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from unified_prior.doctor.evidence import as_float, as_step
from unified_prior.doctor.readers.keys import classify, layout, pick_record

PREFIX = re.compile(
    r"^\s*\[?\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?"
    r"(?:\s*[-|]\s*[\w.<>]+\s*[-|]\s*[A-Za-z]+\s*[-|])?"
    r"|^\s*\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}\s*-\s*[A-Z]+\s*-\s*[\w.<>]+\s*-"
    r"|^\s*\|\s*[A-Z]+\s*\|\s*[\w.]+\s*\|"  # fairseq: "| INFO | train_inner |"
    # detectron2 "[05/01 10:00:00 d2.utils.events]:", PaddleDetection "[05/01 10:00:00]
    # ppdet.engine INFO:"
    r"|^\s*\[\d{2}/\d{2}(?:/\d{2,4})? \d{2}:\d{2}:\d{2}[^\]]*\](?:\s*[\w.]+\s+[A-Z]+)?\s*:?"
)
NUMBER = (
    r"[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
    r"|[-+]?(?:nan|NaN|NAN|inf|Inf|INF|Infinity|infinity)\b"
)
#: A number not glued to a word (``lr0``, ``e2e`` are names). Keys are found by looking back
#: from each number, which stays linear in the line; a regex matching "words then a number"
#: backtracks on every start position and took seconds on long config lines.
_NUM = re.compile(r"(?<![\w.])(?:" + NUMBER + r")(?![A-Za-z_\d])")  # not "50ms", "5s"
_OF_SEP = re.compile(r"\s*/\s*")  # "Step [100/600]": the text between step and its total
_NUM_SPLIT = re.compile("(" + _NUM.pattern + ")")
_KEY_CUT = re.compile(r"[,|;()\]}{:]")  # also "INFO:root:Epoch"
#: At most this many words before a number make its key.
KEY_WORDS = 4
_DICT = re.compile(r"\{.*\}")
#: torchvision/DETR ``MetricLogger``: "Epoch: [3]  [ 10/128]  eta: … lr: 0.1  loss: 2.3 (2.4)".
METRIC_LOGGER = re.compile(
    r"(?:^|(?<=[\s:\]]))\s*(?:Epoch(?:\(train\))?:?\s*\[(\d+)\]|Train:\s*(\d+))"
    r"\s*\[\s*(\d+)\s*/\s*(\d+)\s*[\](]"
)  # torchvision/DETR "Epoch: [3] [10/128]", timm "Train: 3 [ 10/1251 (  1%)]",
#    mmdet 2.x "Epoch [3][10/128]", MMEngine "Epoch(train)  [3][ 10/128]"
#: MMEngine's iteration-based training: "Iter(train) [  50/90000]" (the step itself).
_MM_ITER = re.compile(r"^\s*Iter\(train\)\s*\[\s*(\d+)\s*/\s*\d+\s*\]")
#: MMEngine's evaluation lines: their numbers belong to the last training step.
_MM_EVAL = re.compile(r"^\s*(?:Epoch|Iter)\((?:val|test)\)")
_TEST_PROGRESS = re.compile(r"^\s*(Test|Eval|Val\w*):\s*\[\s*\d+\s*/\s*\d+\s*\]")
_AVERAGED = re.compile(r"^\s*Averaged stats:", re.IGNORECASE)
#: A line that reports an evaluation as a whole: its plain ``loss`` is an eval loss.
_EVAL_CONTEXT = re.compile(
    r"^\W*(?:valid(?:ation)?|eval(?:uation)?|test)\b|valid on '|\|\s*valid\s*\|"
    r"|\b(?:validat\w*|evaluat\w*|test)\s*:",
    re.IGNORECASE,
)
#: Swin/timm-style "Train: [3/50]" (epoch 3 of 50), optionally "[120/500]" (iteration).
_BRACKET_EPOCH = re.compile(
    r"\b(?:train(?:ing)?|epoch)\s*:?\s*\[\s*(\d+)\s*/\s*\d+\s*\](?:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\])?",
    re.IGNORECASE,
)
_COUNTER = re.compile(r"^\W{0,3}\[\s*(\d+)\s*/\s*(\d+)\s*\](?:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\])?")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: ``Namespace(lr=0.0001, …)`` / ``TrainingArguments(…)`` printed as one line, or opened on
#: a line of its own and closed by ``)`` (HF prints its arguments one per line).
CONFIG_CALL = re.compile(r"\b(Namespace|\w*(?:Arguments|Args|Config))\((.*)\)\s*$")
CONFIG_OPEN = re.compile(r"\b(Namespace|\w*(?:Arguments|Args|Config))\(\s*$")
_KEYWORD = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.*?),?\s*$")
MAX_DICT_CHARS = 4096


@dataclass
class Line:
    """What one line says: step, epoch and metrics (normalised names), other numbers."""

    step: int | None = None
    epoch: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    other: dict[str, float] = field(default_factory=dict)
    form: str = "pairs"
    #: Lines-of-a-block parsers (MetricLogger eval) ask the reader to put this at the last step.
    at_last_step: bool = False


def literal(text: str) -> Any:
    """A Python literal, or the text itself when it is not one (never ``eval``)."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text.strip()


def config_call(text: str) -> dict[str, Any] | None:
    """The keyword arguments of a one-line ``Namespace(...)`` as a dict (literals only)."""
    if len(text) > 200_000:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not isinstance(tree.body, ast.Call):
        return None
    found: dict[str, Any] = {}
    for keyword in tree.body.keywords:
        if keyword.arg is None:
            continue
        try:
            found[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            found[keyword.arg] = ast.unparse(keyword.value)
    return found


def keyword_line(text: str) -> tuple[str, Any] | None:
    """``learning_rate=2e-05,`` inside an opened arguments block."""
    match = _KEYWORD.match(text)
    if match is None:
        return None
    return match.group(1), literal(match.group(2))


def python_dict(body: str) -> Line | None:
    """HF Trainer's console dicts ``{'loss': 2.31, 'learning_rate': 1e-4, 'epoch': 0.5}``."""
    match = _DICT.search(body)
    if match is None or len(match.group(0)) >= MAX_DICT_CHARS:
        return None
    value = literal(match.group(0))
    if not isinstance(value, dict):
        return None
    step, epoch, metrics, other = pick_record(value)
    if not metrics and not other:
        # HF's closing summary ({'train_runtime': …, 'train_loss': mean}) is not an interval.
        return (
            Line(form="skip")
            if layout(tuple(k for k in value if isinstance(k, str))).summary
            else None
        )
    return Line(step, epoch, metrics, other, "dict")


@lru_cache(maxsize=4096)
def _metric_key(key: str) -> str | None:
    """Try the key, then drop leading words: ``INFO Training Loss`` → ``Training Loss``.
    A two-letter clock must be the whole key (``time s`` is not the step ``s``)."""
    words = key.split()
    for start in range(len(words)):
        name = " ".join(words[start:])
        kind = classify(name)
        if kind.metric is None:
            continue
        if kind.metric in ("step", "epoch") and len(name) <= 2 and start > 0:
            continue  # "s", "it", "ep" only as the whole key
        return name
    return None


@dataclass(frozen=True)
class _Plan:
    """What the numbers of one line *shape* are (the text between them decides it all), so
    that a log repeating one line form a million times looks at its words once."""

    steps: tuple[tuple[int, int | None], ...]  # (number index, index of its "/N") in order
    epochs: tuple[int, ...]
    metrics: tuple[tuple[str, tuple[int, ...]], ...]  # metric -> numbers summed (parts)
    to_val: bool


@lru_cache(maxsize=4096)
def _plan(texts: tuple[str, ...]) -> _Plan:
    """``texts[k]`` is the text before number ``k`` (the last one: after the last number)."""
    steps: list[tuple[int, int | None]] = []
    epochs: list[int] = []
    found: dict[str, int] = {}
    for k in range(len(texts) - 1):
        before = texts[k][-120:]
        head = before.rstrip(" \t=:[")
        if not head or head == before:
            continue  # "1/100", "x(3": the number is not right after a key
        raw = _KEY_CUT.split(head)[-1].split()[-KEY_WORDS:]
        key = _metric_key(" ".join(raw)) if raw else None
        if key is None:
            continue
        kind = classify(key)
        if (
            len(key) <= 2
            and kind.metric in ("step", "epoch")
            and before[len(head) :] not in (":", "=")
        ):
            continue  # llm.c's "s:120"; not "… 5 s 50"
        if kind.metric == "step":
            total = k + 1 if k + 2 < len(texts) and _OF_SEP.fullmatch(texts[k + 1]) else None
            steps.append((k, total))
        elif kind.metric == "epoch":
            epochs.append(k)
        elif key not in found:
            found[key] = k
    plan = layout(tuple(found))
    metrics: list[tuple[str, tuple[int, ...]]] = []
    if not plan.summary:
        metrics += [(m, (found[keys[0]],)) for m, keys in plan.alternatives.items()]
        metrics += [(m, tuple(found[k] for k in keys)) for m, keys in plan.parts.items()]
    names = {m for m, _ in metrics}
    to_val = (
        "loss" in names and "val_loss" not in names and bool(_EVAL_CONTEXT.search("0".join(texts)))
    )
    return _Plan(tuple(steps), tuple(epochs), tuple(metrics), to_val)


def pairs(body: str) -> Line:
    """``key value`` / ``key=value`` / ``key: value`` pairs through the shared mapping."""
    pieces = _NUM_SPLIT.split(body)
    numbers = pieces[1::2]
    plan = _plan(tuple(pieces[0::2]))
    step: int | None = None
    epoch: float | None = None
    per_epoch: int | None = None
    for index, total in plan.steps:
        step = as_step(numbers[index])
        per_epoch = int(numbers[total]) if total is not None and numbers[total].isdigit() else None
        if step is not None:
            break
    for index in plan.epochs:
        epoch = as_float(numbers[index])
        if epoch is not None:
            break
    metrics: dict[str, float] = {}
    for metric, indexes in plan.metrics:
        values = [as_float(numbers[i]) for i in indexes]
        if all(v is not None for v in values):
            metrics[metric] = float(sum(v for v in values if v is not None))
    if plan.to_val:
        # fairseq "valid on 'valid' subset | loss 8.1", "Validation: loss 0.5"
        metrics["val_loss"] = metrics.pop("loss")
    form = "pairs"
    counter = _COUNTER.match(body) if epoch is None and step is None else None
    if counter is not None:
        # "[116900/200000] Train loss: …" is the step; "[2/5][100/1583] Loss_D …" (the
        # DCGAN tutorial) is epoch 2, iteration 100 of 1583.
        if counter.group(3) is not None:
            epoch, step = float(counter.group(1)), int(counter.group(3))
            per_epoch = int(counter.group(4))
        else:
            step = int(counter.group(1))
    if epoch is None and step is None:
        bracket = _BRACKET_EPOCH.search(body)
        if bracket is not None:
            epoch = float(bracket.group(1))
            if bracket.group(2) is not None:
                step, per_epoch = int(bracket.group(2)), int(bracket.group(3))
    if step is not None and per_epoch and epoch is not None and float(epoch).is_integer():
        # "Epoch [2/10], Step [100/600]": the step counts within the epoch; the global one is
        # epoch × steps per epoch + step (an offset of one epoch when epochs count from 1).
        step, form = int(epoch) * per_epoch + step, "epoch-step"
    return Line(step, epoch, metrics, form=form)


class MetricLoggerState:
    """torchvision/DETR ``MetricLogger``: the global step is epoch × iterations + iteration;
    ``Test: [i/n]`` lines are evaluation batches (not training steps) and the
    ``Averaged stats`` line after them is the evaluation's loss."""

    def __init__(self) -> None:
        self.in_eval = False
        self.seen = False

    def parse(self, body: str) -> Line | None:
        match = METRIC_LOGGER.match(body)
        if match is None and "[" in body:
            # "…ppdet.engine INFO: Epoch: [0] [ 0/100]": a prefix we did not strip.
            found = METRIC_LOGGER.search(body)
            match = found if found is not None and found.start() < 80 else None
        if match is not None:
            self.seen, self.in_eval = True, False
            epoch = int(match.group(1) or match.group(2))
            i, n = int(match.group(3)), int(match.group(4))
            line = pairs(body[match.end() :])
            line.step, line.epoch, line.form = epoch * n + i, float(epoch), "metric-logger"
            return line
        match = _MM_ITER.match(body)
        if match is not None:
            self.seen, self.in_eval = True, False
            line = pairs(body[match.end() :])
            line.step, line.form = int(match.group(1)), "metric-logger"
            return line
        if not self.seen:
            return None
        if _MM_EVAL.match(body):
            line = pairs(body[body.index(")") + 1 :])
            loss = line.metrics.get("loss", line.metrics.get("val_loss"))
            line.metrics = {} if loss is None else {"val_loss": loss}
            line.other = {}
            line.at_last_step, line.form = True, "metric-logger"
            return line if line.metrics else Line(form="skip")
        if _TEST_PROGRESS.match(body):
            self.in_eval = True
            return Line(form="skip")
        if _AVERAGED.match(body):
            if not self.in_eval:
                return Line(form="skip")  # the epoch mean of what was logged per step
            line = pairs(body)
            if "loss" in line.metrics:
                line.metrics["val_loss"] = line.metrics.pop("loss")
            line.metrics = {k: v for k, v in line.metrics.items() if k == "val_loss"}
            line.at_last_step, line.form = True, "metric-logger"
            return line
        return None
