"""What the rules need to know about one script, read from its syntax tree alone.

The audited file is parsed with :mod:`ast`; nothing in it is imported or executed. From the
tree this module builds:

* **symbols**: a name or ``self.attr`` chain, resolved to the function (or class, or module)
  whose variable it is, so two functions that both say ``scheduler`` are not confused;
* **object flows**: where an optimizer, scheduler or config object travels through simple
  assignments, ``accelerator.prepare``, calls of functions defined in the same file and their
  returns, and where it *escapes* into code we cannot see (an imported function, a list,
  ``**kwargs``). Rules stay silent about anything that escapes: a false alarm costs more
  trust than a miss;
* **config keys** (dict literals, ``dict(...)``, ``.update``, argparse options, dataclass and
  pydantic fields) and every read of each key, classified as *applied* (reaches a call, a
  condition, a loop bound, ...) or *log only* (reaches only print/logging/f-strings);
* optimizer and scheduler constructions, ``.step()`` calls with the loops and ``if`` branches
  around them, gradient clipping calls, LR writes into ``param_groups``, ``torch.save``
  payloads and ``load_state_dict`` calls.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, cast

NodeT = TypeVar("NodeT", bound=ast.AST)
#: (id of the scope node, dotted name): ``(id(fn), "scheduler")``, ``(id(cls), "self.opt")``.
Symbol = tuple[int, str]

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
_HF_SCHEDULE = re.compile(r"^get_\w+_schedule(_with_warmup)?$")

#: Calls whose arguments are only recorded (printed, logged, serialised), never applied.
_LOG_FUNCS = frozenset({"print", "pprint", "echo", "secho"})
_LOG_METHODS = frozenset(
    {
        "info", "debug", "warning", "warn", "error", "critical", "exception", "log",
        "set_description", "set_postfix", "set_postfix_str", "add_scalar", "add_scalars",
        "add_text", "add_hparams", "log_metrics", "log_hyperparams", "log_dict", "write",
        "print", "echo",
    }
)  # fmt: skip
#: Receivers whose logging-like methods only record text: ``logger.info``, ``writer.add_scalar``.
_LOG_BASE_PARTS = ("log", "writer", "console", "wandb", "mlflow", "pbar", "tqdm", "progress")
_LOG_BASES = frozenset(
    {"tb", "f", "fh", "fp", "file", "out", "stdout", "stderr", "warnings", "accelerator",
     "rich", "typer", "click", "run", "experiment", "tracker", "trackers"}
)  # fmt: skip
_STORE_SINKS = frozenset(
    {"torch.save", "json.dump", "json.dumps", "yaml.dump", "yaml.safe_dump", "wandb.init",
     "OmegaConf.save", "toml.dump", "tomli_w.dump", "pickle.dump"}
)  # fmt: skip
#: Keywords of logging/saving calls that carry recorded data, not settings of the call.
_DATA_KEYWORDS = frozenset({"config", "hparams", "params", "metrics", "extra", "obj", "msg"})
#: Calls that pass their argument's value through (the result carries the same meaning).
_TRANSPARENT = frozenset(
    {"int", "float", "str", "bool", "round", "abs", "max", "min", "vars", "dict", "copy",
     "deepcopy", "copy.copy", "copy.deepcopy", "math.ceil", "math.floor", "list", "tuple"}
)  # fmt: skip
#: Helper names that, by convention, write the LR into param groups.
_LR_SETTERS = frozenset({"set_lr", "adjust_learning_rate", "update_lr", "set_learning_rate"})
#: Names of config containers: ``config``, ``cfg``, ``train_config``, ``hparams``,
#: ``training_args``, ``config_dict``; not ``arc_option_map`` or ``param_groups``.
_CONFIG_NAME = re.compile(
    r"(^|_)(config|cfg|conf|hparams?|hyper_?params?|hyperparameters|settings|options|args|"
    r"params|hp)$|^(config|cfg|conf|hparams?)(_|$)",
    re.I,
)
_CONFIG_CLASS = re.compile(r"config|cfg|args|arguments|params|settings|options|hparams", re.I)
_OPTIMIZER_NAME = re.compile(r"^(opt|optim|optimizer|optimiser)$|optimizer|optimiser|_opt$", re.I)
_ACCUM_TOKEN = re.compile(r"accum|sync_gradients|micro", re.I)

LOOP_TYPES = (ast.For, ast.AsyncFor, ast.While)
FUNC_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def dotted(node: ast.AST | None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _index_of(items: Sequence[ast.AST], node: ast.AST | None) -> int | None:
    """Position of ``node`` in ``items`` by identity (AST nodes compare by identity anyway)."""
    return next((i for i, item in enumerate(items) if item is node), None)


def last_part(name: str | None) -> str:
    return (name or "").rsplit(".", 1)[-1]


def const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


@dataclass(frozen=True)
class NotLiteral:
    """A claim that is not written as a literal (``WARMUP``, ``2 * k``): messages show its
    source text, and no rule compares it as a value."""

    text: str

    def __repr__(self) -> str:
        return self.text


def is_unknown(value: Any) -> bool:
    """Whether a claimed value is not known statically."""
    return value is ... or isinstance(value, NotLiteral)


def literal_value(node: ast.AST | None) -> Any:
    """The value a config entry holds when it is written literally; a ``NotLiteral`` with
    the source text when it is not.

    ``src.get("k", 2)``, ``int(os.environ.get("K", "2"))`` and ``getattr(a, "k", 2)`` give
    their default: that is what the script claims unless overridden.
    """
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    unknown = NotLiteral(ast.unparse(node))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = literal_value(node.operand)
        return -inner if isinstance(inner, int | float) and inner is not True else unknown
    if isinstance(node, ast.Call):
        name = dotted(node.func) or ""
        if name in {"int", "float", "bool", "str"} and len(node.args) == 1:
            inner = literal_value(node.args[0])
            if is_unknown(inner):
                return unknown
            try:
                return {"int": int, "float": float, "bool": bool, "str": str}[name](inner)
            except (TypeError, ValueError):
                return unknown
        if last_part(name) == "get" and len(node.args) == 2:
            return literal_value(node.args[1])
        if name == "getattr" and len(node.args) == 3:
            return literal_value(node.args[2])
    return unknown


def is_off(value: Any) -> bool:
    """A literal that switches a feature off: None, 0, False, "", "none", "constant"."""
    if is_unknown(value) or value is True:
        return False
    if value is None or value is False:
        return True
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str):
        return value.strip().lower() in {"", "none", "null", "off", "false", "constant", "fixed"}
    return False


def fmt_value(value: Any) -> str:
    return "?" if value is ... else repr(value)  # a NotLiteral shows its source text


def tokens(node: ast.AST) -> set[str]:
    """Lower-cased identifiers, attribute names and string subscripts inside ``node``."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id.lower())
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr.lower())
        elif isinstance(sub, ast.Subscript) and (key := const_str(sub.slice)):
            out.add(key.lower())
        elif isinstance(sub, ast.keyword) and sub.arg:
            out.add(sub.arg.lower())
    return out


@dataclass
class Control:
    """The loops and ``if`` branches around a node, outermost first, within its function."""

    scope: ast.AST
    loops: tuple[ast.AST, ...]
    branches: tuple[tuple[ast.If, str], ...]
    withs: tuple[ast.AST, ...]


@dataclass
class Flow:
    """Where an object travels: its names, how it is used, and whether it escapes."""

    symbols: set[Symbol] = field(default_factory=set)
    method_calls: dict[str, list[ast.Call]] = field(default_factory=dict)
    escapes: list[tuple[ast.AST, str]] = field(default_factory=list)
    prepared: bool = False  # went through accelerator.prepare
    composite_parent: ast.Call | None = None  # child of SequentialLR / ChainedScheduler
    lightning_return: ast.AST | None = None  # returned from configure_optimizers
    uses: list[ast.AST] = field(default_factory=list)

    def calls(self, *methods: str) -> list[ast.Call]:
        return [c for m in methods for c in self.method_calls.get(m, [])]


@dataclass
class OptimizerInfo:
    call: ast.Call
    flow: Flow
    lr_arg: ast.expr | None


@dataclass
class SchedulerInfo:
    call: ast.Call
    cls: str
    family: str  # torch | hf | timm | ours
    flow: Flow
    optimizer: Symbol | None
    optimizer_text: str
    control: Control
    children: list[SchedulerInfo] = field(default_factory=list)
    parent: SchedulerInfo | None = None
    lightning_manual: bool = False

    @property
    def steps(self) -> list[ast.Call]:
        return self.flow.calls("step", "step_update")

    @property
    def name(self) -> str:
        targets = sorted(s[1] for s in self.flow.symbols)
        return targets[0] if targets else self.cls


@dataclass
class KeyRead:
    node: ast.AST
    kind: str  # applied | log | dead


@dataclass
class ConfigKey:
    """One declared configuration key and what the script claims for it."""

    key: str
    node: ast.AST  # where it is declared (the dict key, the add_argument option, the field)
    value: Any  # the literal claim, a ``NotLiteral``, or ``...`` when there is no value
    container: str  # the name the script gives the container, for messages
    source: str  # dict | argparse | dataclass
    escaped: bool  # the whole container reaches code we cannot see
    declared_in: ast.AST | None = None  # the dict literal / call it was declared in
    reads: list[KeyRead] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return any(r.kind == "applied" for r in self.reads)

    @property
    def display(self) -> str:
        if self.source == "argparse":
            return f"--{self.key}"
        if self.source == "dataclass":
            return f"{self.container}.{self.key}"
        return f'{self.container}["{self.key}"]'

    @property
    def claim(self) -> str:
        if self.source == "argparse":
            return f"{self.display} (default {fmt_value(self.value)})"
        return f"{self.display} = {fmt_value(self.value)}"


class ScriptFacts:
    """Everything the rules ask about one parsed script."""

    def __init__(self, path: str, source: str, tree: ast.Module) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        # One pass over the tree (``ast.walk`` order) builds the parent links and an index of
        # nodes by type; everything else reads the index instead of walking again. The
        # analyses below are computed on first use, so a file without optimizers, schedulers
        # or config containers costs little more than its parse.
        self.parents: dict[ast.AST, ast.AST] = {}
        self._by_type: dict[type, list[ast.AST]] = {}
        todo: list[ast.AST] = [tree]
        i = 0
        while i < len(todo):
            node = todo[i]
            i += 1
            self._by_type.setdefault(type(node), []).append(node)
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
                todo.append(child)
        self._locals: dict[ast.AST, set[str]] = {}
        self._kind_cache: dict[Symbol, str] = {}
        self._kind_active: set[Symbol] = set()
        self._cycle_hits = 0
        self._kind_budget = 50_000  # bounds tracing time on generated, densely aliased code
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = [
            *self.of_type(ast.FunctionDef),
            *self.of_type(ast.AsyncFunctionDef),
        ]
        self._functions_by_name: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for fn in self.functions:
            self._functions_by_name.setdefault(fn.name, []).append(fn)
        self.calls: list[ast.Call] = self.of_type(ast.Call)

    def of_type(self, cls: type[NodeT]) -> list[NodeT]:
        """Every node of exactly this type, in ``ast.walk`` order."""
        return cast("list[NodeT]", self._by_type.get(cls, []))

    @cached_property
    def imports(self) -> dict[str, str]:
        return self._imports()

    @cached_property
    def _uses(self) -> dict[Symbol, list[ast.AST]]:
        """Every load of each symbol (names and ``a.b`` chains)."""
        uses: dict[Symbol, list[ast.AST]] = {}
        loads: list[ast.Name | ast.Attribute] = [
            *self.of_type(ast.Name),
            *self.of_type(ast.Attribute),
        ]
        for node in loads:
            if isinstance(node.ctx, ast.Load):
                sym = self.symbol(node)
                if sym is not None:
                    uses.setdefault(sym, []).append(node)
        return uses

    @cached_property
    def _classes(self) -> dict[int, ast.ClassDef]:
        return {id(c): c for c in self.of_type(ast.ClassDef)}

    def _has_foreign_base(self, cls: ast.ClassDef) -> bool:
        """A base that is not ``object`` and not a class defined (foreign-base-free) here."""
        local = {c.name: c for c in self.of_type(ast.ClassDef)}
        for base in cls.bases:
            name = dotted(base)
            if name == "object":
                continue
            if name in local and local[name] is not cls and not self._has_foreign_base(local[name]):
                continue
            return True
        return bool(cls.keywords)  # a metaclass may add behaviour too

    @cached_property
    def is_script(self) -> bool:
        """The file runs something: a ``__main__`` guard, a top-level loop or ``with``, a
        top-level call statement, or a top-level optimizer / ``parse_args`` assignment. A
        module that only defines things is a library: its module-level containers are read
        by importers we cannot see."""
        for stmt in self.tree.body:
            if isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith):
                return True
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                return True
            if isinstance(stmt, ast.If) and "__name__" in {
                n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)
            }:
                return True
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                call = stmt.value
                if self._is_optimizer_call(call) or last_part(dotted(call.func)) in {
                    "parse_args",
                    "parse_known_args",
                }:
                    return True
        return False

    @cached_property
    def _attribute_loads(self) -> dict[str, list[ast.Attribute]]:
        loads: dict[str, list[ast.Attribute]] = {}
        for node in self.of_type(ast.Attribute):
            if isinstance(node.ctx, ast.Load):
                loads.setdefault(node.attr, []).append(node)
        return loads

    @cached_property
    def _call_sites(self) -> dict[int, list[ast.Call]]:
        sites: dict[int, list[ast.Call]] = {}
        for call in self.calls:
            func = self.function_def(call)
            if func is not None:
                sites.setdefault(id(func), []).append(call)
        return sites

    @cached_property
    def frameworks(self) -> set[str]:
        return self._frameworks()

    @cached_property
    def optimizers(self) -> list[OptimizerInfo]:
        return self._optimizers()

    @cached_property
    def schedulers(self) -> list[SchedulerInfo]:
        return self._schedulers()

    @cached_property
    def lr_writes(self) -> list[ast.AST]:
        return self._lr_writes()

    @cached_property
    def config_keys(self) -> list[ConfigKey]:
        return self._config_keys()

    # ----------------------------------------------------------------- basic navigation
    def qualified(self, call: ast.Call) -> str:
        """The called name with import aliases expanded: ``optim.AdamW`` → ``torch.optim.AdamW``."""
        name = dotted(call.func) or ""
        head, _, rest = name.partition(".")
        if head in self.imports:
            return self.imports[head] + (f".{rest}" if rest else "")
        return name

    def _imports(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for node in [*self.of_type(ast.Import), *self.of_type(ast.ImportFrom)]:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    out[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return out

    def scope_of(self, node: ast.AST) -> ast.AST:
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, FUNC_TYPES):
            cur = self.parents.get(cur)
        return cur if cur is not None else self.tree

    def class_of(self, node: ast.AST) -> ast.ClassDef | None:
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, ast.ClassDef):
            cur = self.parents.get(cur)
        return cur

    def locals_of(self, scope: ast.AST) -> set[str]:
        if scope not in self._locals:
            names: set[str] = set()
            declared_global: set[str] = set()
            if isinstance(scope, FUNC_TYPES):
                args = scope.args
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    names.add(a.arg)
                for star in (args.vararg, args.kwarg):
                    if star is not None:
                        names.add(star.arg)
            stack = list(ast.iter_child_nodes(scope))
            while stack:
                node = stack.pop()
                if isinstance(node, ast.Global | ast.Nonlocal):
                    declared_global.update(node.names)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                if isinstance(node, (*FUNC_TYPES, ast.ClassDef)):
                    if not isinstance(node, ast.Lambda):
                        names.add(node.name)
                    continue
                stack.extend(ast.iter_child_nodes(node))
            self._locals[scope] = names - declared_global
        return self._locals[scope]

    def symbol(self, node: ast.AST) -> Symbol | None:
        """Resolve a Name/Attribute chain to the variable it denotes."""
        name = dotted(node)
        if name is None:
            return None
        head = name.split(".", 1)[0]
        if head in {"self", "cls"}:
            owner = self.class_of(node)
            if owner is not None:
                return (id(owner), name)
        scope = self.scope_of(node)
        while scope is not self.tree:
            if head in self.locals_of(scope):
                return (id(scope), name)
            scope = self.scope_of(scope)
        return (id(self.tree), name)

    def target_symbols(self, target: ast.AST) -> list[Symbol | None]:
        if isinstance(target, ast.Tuple | ast.List):
            return [self.symbol(t) for t in target.elts]
        return [self.symbol(target)]

    def control(self, node: ast.AST) -> Control:
        loops: list[ast.AST] = []
        branches: list[tuple[ast.If, str]] = []
        withs: list[ast.AST] = []
        child, cur = node, self.parents.get(node)
        while cur is not None and not isinstance(cur, (*FUNC_TYPES, ast.ClassDef)):
            if isinstance(cur, LOOP_TYPES) and child in cur.body:
                loops.append(cur)
            elif isinstance(cur, ast.If):
                if child in cur.body:
                    branches.append((cur, "body"))
                elif child in cur.orelse:
                    branches.append((cur, "orelse"))
            elif isinstance(cur, ast.With | ast.AsyncWith) and child in cur.body:
                withs.append(cur)
            child, cur = cur, self.parents.get(cur)
        return Control(
            scope=self.scope_of(node),
            loops=tuple(reversed(loops)),
            branches=tuple(reversed(branches)),
            withs=tuple(reversed(withs)),
        )

    def statement_of(self, node: ast.AST) -> ast.stmt:
        cur = node
        while not isinstance(cur, ast.stmt):
            cur = self.parents[cur]
        return cur

    def pos(self, node: ast.AST) -> tuple[int, int]:
        """(line, 1-based col) of a node."""
        return (getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)

    def text(self, node: ast.AST, limit: int = 60) -> str:
        seg = ast.get_source_segment(self.source, node) or ast.unparse(node)
        seg = " ".join(seg.split())
        return seg if len(seg) <= limit else seg[: limit - 1] + "…"

    def function_def(self, call: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function defined in this file that ``call`` calls, when that is clear."""
        func = call.func
        if isinstance(func, ast.Name):
            named = self._functions_by_name.get(func.id, [])
            candidates = [f for f in named if self.class_of(f) is None]
        elif isinstance(func, ast.Attribute) and dotted(func.value) in {"self", "cls"}:
            owner = self.class_of(call)
            named = self._functions_by_name.get(func.attr, [])
            candidates = [f for f in named if self.class_of(f) is owner]
        else:
            return None
        return candidates[0] if len(candidates) == 1 else None

    def call_sites(self, func: ast.AST) -> list[ast.Call]:
        return self._call_sites.get(id(func), [])

    @staticmethod
    def param_for(func: ast.AST, call: ast.Call, arg: ast.AST) -> str | None:
        """The parameter of ``func`` that receives ``arg`` in ``call``."""
        assert isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
        if params and params[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
            params = params[1:]
        for i, a in enumerate(call.args):
            if a is arg:
                return params[i] if i < len(params) else None
        for kw in call.keywords:
            if kw.value is arg and kw.arg:
                return kw.arg
        return None

    def is_log_call(self, call: ast.Call) -> bool:
        name = dotted(call.func) or ""
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Constant):
            return call.func.attr == "format"  # "...".format(x) only builds text
        if name in _LOG_FUNCS or self.qualified(call) in _STORE_SINKS:
            return True
        base, _, method = name.rpartition(".")
        if method in _LOG_METHODS and base:
            parts = base.lower().split(".")
            if any(any(t in p for t in _LOG_BASE_PARTS) for p in parts) or parts[-1] in _LOG_BASES:
                return True
        return name.startswith(("logging.", "logger.", "log.", "wandb.", "mlflow."))

    def inside_log_call(self, node: ast.AST) -> bool:
        cur = node
        while not isinstance(cur, ast.stmt):
            parent = self.parents[cur]
            if isinstance(parent, ast.JoinedStr):
                return True
            if isinstance(parent, ast.Call) and cur is not parent.func and self.is_log_call(parent):
                return True
            if (
                isinstance(parent, ast.BinOp)
                and isinstance(parent.op, ast.Mod)
                and const_str(parent.left) is not None
            ):
                return True
            cur = parent
        return False

    def _frameworks(self) -> set[str]:
        """Training frameworks that step schedulers / accumulate / clip on the user's behalf."""
        found: set[str] = set()
        for call in self.calls:
            name = last_part(dotted(call.func))
            qual = self.qualified(call)
            if name.endswith("Trainer") or name in {
                "TrainingArguments",
                "Seq2SeqTrainingArguments",
            }:
                found.add("trainer")
            if qual.startswith("deepspeed.") or (name == "initialize" and "deepspeed" in qual):
                found.add("deepspeed")
            if name == "accumulate" or name == "no_sync":
                found.add("accumulate")
        for node in self.of_type(ast.ClassDef):
            if any("LightningModule" in (dotted(b) or "") for b in node.bases):
                found.add("lightning")
        return found

    # ----------------------------------------------------------------- object flow
    def flow(self, seeds: Iterable[Symbol | None]) -> Flow:
        """Follow an object from its first names through the file (see module docstring)."""
        flow = Flow()
        work = [s for s in seeds if s is not None]
        while work:
            sym = work.pop()
            if sym in flow.symbols:
                continue
            flow.symbols.add(sym)
            if sym[1].startswith(("self.", "cls.")):
                owner = self._classes.get(sym[0])
                if owner is not None and self._has_foreign_base(owner):
                    # A base class defined elsewhere may read ``self.config`` itself.
                    flow.escapes.append(
                        (owner, f"{sym[1]} of a class with a base defined elsewhere")
                    )
                # ``self.scheduler`` may also be reached as ``trainer.scheduler`` outside the
                # class; we do not track instances, so such a read hands the object away.
                attr = last_part(sym[1])
                for node in self._attribute_loads.get(attr, []):
                    if dotted(node.value) not in {"self", "cls"}:
                        flow.escapes.append((node, f"read as .{attr} outside its class"))
            for use in self._uses.get(sym, []):
                for new in self._classify_object_use(use, flow):
                    if new is not None and new not in flow.symbols:
                        work.append(new)
        return flow

    def _classify_object_use(self, use: ast.AST, flow: Flow) -> list[Symbol | None]:
        flow.uses.append(use)
        parent = self.parents.get(use)
        if isinstance(parent, ast.Attribute) and parent.value is use:
            grand = self.parents.get(parent)
            if isinstance(grand, ast.Call) and grand.func is parent:
                flow.method_calls.setdefault(parent.attr, []).append(grand)
            return []
        if isinstance(parent, ast.Subscript | ast.Compare | ast.BoolOp | ast.UnaryOp | ast.If):
            return []
        unpacked = isinstance(parent, ast.keyword) and parent.arg is None
        if unpacked or isinstance(parent, ast.Starred):
            # ``f(**config)`` / ``f(*items)``: every key becomes an argument of f.
            flow.escapes.append((use, "unpacked into a call"))
            return []
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is not use:
            return self._object_passed(use, parent, flow)
        if isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is use:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            out: list[Symbol | None] = []
            for target in targets:
                if isinstance(target, ast.Name) or (
                    isinstance(target, ast.Attribute) and dotted(target.value) in {"self", "cls"}
                ):
                    out.append(self.symbol(target))
                else:
                    # ``ckpt["cfg"] = cfg``, ``module.options = cfg``, ``a, b = cfg``: the
                    # object now lives where other code can reach it.
                    flow.escapes.append((use, "stored where we do not follow it"))
            return out
        if isinstance(parent, ast.BinOp):
            flow.escapes.append((use, "combined into another value"))  # ``"%(k)s" % cfg``
            return []
        if isinstance(parent, ast.Return):
            return self._returned(use, parent, flow)
        if isinstance(parent, ast.Tuple | ast.List | ast.Set | ast.Dict):
            if self.inside_log_call(parent):
                return []
            outer = self.parents.get(parent)
            if isinstance(outer, ast.Return):
                return self._returned(use, outer, flow, container=parent)
            ret = self.parents.get(outer) if outer is not None else None
            if isinstance(outer, ast.Dict | ast.List | ast.Tuple) and isinstance(ret, ast.Return):
                return self._returned(use, ret, flow, container=outer)
            flow.escapes.append((use, "put into a container"))
            return []
        if isinstance(parent, ast.For | ast.comprehension):
            flow.escapes.append((use, "iterated"))
            return []
        return []

    def _object_passed(self, use: ast.AST, call: ast.Call, flow: Flow) -> list[Symbol | None]:
        name = last_part(dotted(call.func))
        if self.is_log_call(call) or self.inside_log_call(call):
            return []
        if name in COMPOSITE_SCHEDULERS:
            flow.composite_parent = call
            return []
        if name == "prepare":
            flow.prepared = True
            return self._call_results(call, use)
        if name in _TRANSPARENT or name in {"copy", "deepcopy"}:
            if isinstance(self.parents.get(call), ast.Assign | ast.AnnAssign):
                return self._call_results(call, None)
            # ``Trainer(vars(args))``: the copy goes wherever the call's result goes.
            return self._classify_object_use(call, flow)
        key_arg = call.args[1] if len(call.args) > 1 else None
        if name in {"getattr", "hasattr"} and const_str(key_arg) is not None:
            return []  # ``getattr(args, "lr", 1e-3)`` reads one named key
        if self._scheduler_class(call) is not None or name in {
            "clip_grad_norm_",
            "unscale_",
            "step",
            "ScheduleGuard",
            "register_step_pre_hook",
            "isinstance",
            "id",
            "type",
            "len",
        }:
            return []  # the optimizer argument of a scheduler, or a harmless inspection
        func = self.function_def(call)
        if func is not None:
            param = self.param_for(func, call, use)
            if param is None:
                flow.escapes.append((use, f"passed to {name}(*args/**kwargs)"))
                return []
            return [(id(func), param)]
        flow.escapes.append((use, f"passed to {dotted(call.func) or 'a call'}()"))
        return []

    def _passed_to_local_function(self, node: ast.AST) -> Symbol | None:
        """The parameter that receives ``node`` when it is an argument of a call to a function
        defined in this file; None when the callee or the parameter is unclear."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if not isinstance(parent, ast.Call) or parent.func is node:
            return None
        func = self.function_def(parent)
        if func is None:
            return None
        param = self.param_for(func, parent, node)
        return (id(func), param) if param is not None else None

    def _call_results(self, call: ast.Call, arg: ast.AST | None) -> list[Symbol | None]:
        """Targets of ``x = f(...)``; for ``a, b = prepare(x, y)`` the one matching ``arg``."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.AnnAssign) and parent.value is call:
            return [self.symbol(parent.target)]
        if not isinstance(parent, ast.Assign) or parent.value is not call:
            return []
        out: list[Symbol | None] = []
        for target in parent.targets:
            if isinstance(target, ast.Tuple | ast.List):
                index = _index_of(call.args, arg)
                if index is not None and len(target.elts) == len(call.args):
                    out.append(self.symbol(target.elts[index]))
            else:
                out.append(self.symbol(target))
        return out

    def _returned(
        self, use: ast.AST, ret: ast.Return, flow: Flow, container: ast.AST | None = None
    ) -> list[Symbol | None]:
        func = self.scope_of(ret)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            if func.name == "configure_optimizers":
                flow.lightning_return = use
                return []
            sites = self.call_sites(func)
            if sites and (container is None or isinstance(container, ast.Tuple)):
                out: list[Symbol | None] = []
                index = _index_of(container.elts, use) if isinstance(container, ast.Tuple) else None
                for site in sites:
                    parent = self.parents.get(site)
                    if index is None and isinstance(parent, ast.Call | ast.keyword):
                        # ``train(build_config())``: follow it into a function of this file.
                        passed = self._passed_to_local_function(site)
                        if passed is not None:
                            out.append(passed)
                            continue
                    if not isinstance(parent, ast.Assign):
                        if not isinstance(parent, ast.Expr):
                            flow.escapes.append((site, f"result of {func.name}() used"))
                        continue
                    for target in parent.targets:
                        if index is None:
                            out.append(self.symbol(target))
                        elif isinstance(target, ast.Tuple | ast.List):
                            if index < len(target.elts):
                                out.append(self.symbol(target.elts[index]))
                        else:
                            flow.escapes.append((site, f"result of {func.name}() kept whole"))
                return out
        flow.escapes.append((use, "returned"))
        return []

    # ----------------------------------------------------------------- optimizers
    def _is_optimizer_call(self, call: ast.Call) -> bool:
        qual = self.qualified(call)
        name = last_part(qual)
        if "lr_scheduler" in qual or self._scheduler_class(call):
            return False
        return (
            name in OPTIMIZER_CLASSES
            or name in OPTIMIZER_FACTORIES
            or (qual.startswith("torch.optim.") and name[:1].isupper())
        )

    def _optimizers(self) -> list[OptimizerInfo]:
        out = []
        for call in self.calls:
            if not self._is_optimizer_call(call):
                continue
            lr = next((k.value for k in call.keywords if k.arg == "lr"), None)
            if lr is None and len(call.args) >= 2:
                lr = call.args[1]
            flow = self._object_flow(call, self._call_results(call, None))
            out.append(OptimizerInfo(call=call, flow=flow, lr_arg=lr))
        return out

    def optimizer_of(self, sym: Symbol | None) -> OptimizerInfo | None:
        for info in self.optimizers:
            if sym in info.flow.symbols:
                return info
        return None

    def is_optimizer_expr(self, node: ast.AST) -> bool:
        sym = self.symbol(node)
        if sym is None:
            return False
        if any(sym in o.flow.symbols for o in self.optimizers):
            return True
        if any(sym in s.flow.symbols for s in self.schedulers):
            return False
        return bool(_OPTIMIZER_NAME.search(last_part(sym[1])))

    def optimizer_steps(self) -> list[tuple[ast.Call, ast.AST]]:
        """``opt.step()`` and ``scaler.step(opt)`` calls, with the optimizer expression."""
        out: list[tuple[ast.Call, ast.AST]] = []
        for call in self.calls:
            func = call.func
            if not isinstance(func, ast.Attribute) or func.attr != "step":
                continue
            if self.is_optimizer_expr(func.value):
                out.append((call, func.value))
            elif call.args and self.is_optimizer_expr(call.args[0]):
                out.append((call, call.args[0]))
        return out

    def optimizer_loads(self) -> list[tuple[ast.Call, ast.AST]]:
        out: list[tuple[ast.Call, ast.AST]] = []
        for call in self.calls:
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "load_state_dict"
                and self.is_optimizer_expr(func.value)
            ):
                out.append((call, func.value))
        return out

    def owned_optimizers(self) -> list[OptimizerInfo]:
        """Optimizers built here that never reach code we cannot see."""
        return [o for o in self.optimizers if not o.flow.escapes]

    # ----------------------------------------------------------------- schedulers
    def _scheduler_class(self, call: ast.Call) -> tuple[str, str] | None:
        qual = self.qualified(call)
        name = last_part(qual)
        if name in TORCH_SCHEDULERS and (
            "." not in qual or "lr_scheduler" in qual or qual.startswith("torch.")
        ):
            return name, "torch"
        if name in TORCH_SCHEDULERS:
            return name, "torch"
        if _HF_SCHEDULE.match(name) or (
            name == "get_scheduler" and ("transformers" in qual or "diffusers" in qual)
        ):
            return name, "hf"
        if name in TIMM_SCHEDULERS:
            return name, "timm"
        if name == "to_lambda_lr":
            return name, "ours"
        return None

    def _schedulers(self) -> list[SchedulerInfo]:
        out: list[SchedulerInfo] = []
        for call in self.calls:
            found = self._scheduler_class(call)
            if found is None:
                continue
            cls, family = found
            results = self._call_results(call, None)
            parent = self.parents.get(call)
            unpacked = None
            if isinstance(parent, ast.Assign) and parent.value is call:
                target = parent.targets[0]
                if isinstance(target, ast.Tuple | ast.List) and target.elts:
                    unpacked = target
            if unpacked is not None and cls in {"create_scheduler", "create_scheduler_v2"}:
                # timm's factories return (scheduler, num_epochs).
                results = [self.symbol(unpacked.elts[0])]
            flow = self._object_flow(call, results)
            if unpacked is not None and not results:
                flow.escapes.append((call, "unpacked into several names"))
            opt_node = call.args[0] if call.args else None
            for kw in call.keywords:
                if kw.arg == "optimizer":
                    opt_node = kw.value
            info = SchedulerInfo(
                call=call,
                cls=cls,
                family=family,
                flow=flow,
                optimizer=self.symbol(opt_node) if opt_node is not None else None,
                optimizer_text=self.text(opt_node) if opt_node is not None else "?",
                control=self.control(call),
            )
            out.append(info)
        by_call = {id(s.call): s for s in out}
        for sched in out:
            if sched.cls in COMPOSITE_SCHEDULERS:
                # ``SequentialLR(opt, schedulers=[a, b], ...)``: the list is the 2nd argument.
                lists = [
                    *sched.call.args[1:2],
                    *(k.value for k in sched.call.keywords if k.arg == "schedulers"),
                ]
                for lst in lists:
                    for elt in getattr(lst, "elts", []):
                        child = by_call.get(id(elt)) or next(
                            (s for s in out if self.symbol(elt) in s.flow.symbols), None
                        )
                        if child is not None:
                            child.parent = sched
                            sched.children.append(child)
            if sched.flow.lightning_return is not None:
                owner = self.class_of(sched.call)
                sched.lightning_manual = owner is not None and self._manual_optimization(owner)
        return out

    def _object_flow(self, call: ast.Call, results: list[Symbol | None]) -> Flow:
        """The flow of the object ``call`` constructs: from the names it is assigned to, or,
        when it is used in place (``return AdamW(...)``, ``prepare(..., LinearLR(...))``,
        ``[opt], [StepLR(opt)]``), from where that use leads."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is not call:
            return self._direct_argument_flow(call, parent, self.flow(results))
        seed = Flow()
        if isinstance(parent, ast.Return | ast.Tuple | ast.List | ast.Set | ast.Dict):
            results = [*results, *self._classify_object_use(call, seed)]
        elif not isinstance(parent, ast.Assign | ast.AnnAssign | ast.Expr):
            # ``lambda opt: StepLR(opt)``, ``x if c else StepLR(...)``, a walrus, ...: the
            # object goes where we do not follow it.
            seed.escapes.append((call, "used in place"))
        flow = self.flow(results)
        flow.escapes.extend(seed.escapes)
        flow.prepared = flow.prepared or seed.prepared
        flow.composite_parent = flow.composite_parent or seed.composite_parent
        flow.lightning_return = flow.lightning_return or seed.lightning_return
        return flow

    def _direct_argument_flow(self, call: ast.Call, outer: ast.Call, flow: Flow) -> Flow:
        name = last_part(dotted(outer.func))
        if name in COMPOSITE_SCHEDULERS:
            flow.composite_parent = outer
            return flow
        if name == "prepare":
            flow.prepared = True
            return self.flow(self._call_results(outer, call))
        if not self.is_log_call(outer):
            flow.escapes.append((call, f"passed to {dotted(outer.func) or 'a call'}()"))
        return flow

    def _manual_optimization(self, owner: ast.ClassDef) -> bool:
        for node in ast.walk(owner):
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = list(node.targets), node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            if (
                any(last_part(dotted(t)) == "automatic_optimization" for t in targets)
                and isinstance(value, ast.Constant)
                and value.value is False
            ):
                return True
        return False

    def lightning_manual_steps(self, owner: ast.ClassDef) -> list[ast.Call]:
        """``self.lr_schedulers().step()`` or ``sch = self.lr_schedulers(); sch.step()``."""
        out: list[ast.Call] = []
        seeds: list[Symbol | None] = []
        for call in self.calls:
            if last_part(dotted(call.func)) != "lr_schedulers" or self.class_of(call) is not owner:
                continue
            parent = self.parents.get(call)
            grand = self.parents.get(parent) if parent is not None else None
            if (
                isinstance(parent, ast.Attribute)
                and parent.attr == "step"
                and isinstance(grand, ast.Call)
                and grand.func is parent
            ):
                out.append(grand)
            seeds.extend(self._call_results(call, None))
            if isinstance(parent, ast.Assign):
                for target in parent.targets:
                    seeds.extend(self.target_symbols(target))
            if isinstance(parent, ast.For | ast.Subscript):
                out.append(call)  # iterated or indexed: stepped somewhere we trust
        flow = self.flow(s for s in seeds if s is not None)
        out.extend(flow.calls("step"))
        if flow.escapes:
            out.append(call)
        return out

    def sees_scheduler(self, node: ast.AST, sched: SchedulerInfo) -> bool:
        """Code at ``node`` can reach the scheduler object: it is a name in the same function,
        at module or class level, or ``node``'s function is called from where it is built.
        A scheduler local to another function (torchvision's first-epoch warmup inside
        ``train_one_epoch``) lives and dies there: saves and loads elsewhere cannot touch it."""
        scope = self.scope_of(node)
        scopes = {s[0] for s in sched.flow.symbols}
        if id(scope) in scopes or id(self.tree) in scopes:
            return True
        owner = self.class_of(node)
        if owner is not None and id(owner) in scopes:
            return True
        built_in = self.scope_of(sched.call)
        return any(self.scope_of(site) is built_in for site in self.call_sites(scope))

    def active_schedulers(self) -> list[SchedulerInfo]:
        """Schedulers this script must step itself (not children, not framework-driven)."""
        return [
            s
            for s in self.schedulers
            if s.parent is None
            and s.flow.composite_parent is None
            and (s.flow.lightning_return is None or s.lightning_manual)
        ]

    # ----------------------------------------------------------------- LR writes
    def _lr_writes(self) -> list[ast.AST]:
        """Places that write an LR into an optimizer's param groups (nanoGPT style)."""
        out: list[ast.AST] = []
        for node in [*self.of_type(ast.Subscript), *self.of_type(ast.Call)]:
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                if const_str(node.slice) in {"lr", "initial_lr"}:
                    out.append(node)
            elif isinstance(node, ast.Call):
                name = last_part(dotted(node.func))
                if (
                    (name == "update" and any(k.arg == "lr" for k in node.keywords))
                    or name in _LR_SETTERS
                    or (
                        name == "setattr"
                        and len(node.args) >= 2
                        and const_str(node.args[1]) == "lr"
                    )
                ):
                    out.append(node)
        return out

    # ----------------------------------------------------------------- config keys
    def _config_keys(self) -> list[ConfigKey]:
        keys: list[ConfigKey] = []
        declared_nodes: set[int] = set()
        for container_name, flow, decls, source in self._containers():
            escaped = bool(flow.escapes)
            for key, node, value, declared_in in decls:
                declared_nodes.add(id(node))
                keys.append(
                    ConfigKey(
                        key=key,
                        node=node,
                        value=value,
                        container=container_name,
                        source=source,
                        escaped=escaped,
                        declared_in=declared_in,
                    )
                )
        by_key: dict[str, list[ConfigKey]] = {}
        for ck in keys:
            by_key.setdefault(ck.key, []).append(ck)
        if not by_key:
            return keys
        for node, key in self._key_mentions(declared_nodes):
            for ck in by_key.get(key, []):
                # ``"k": other.get("k", d)`` copies a value into the config; it applies nothing.
                if ck.declared_in is not None and self._within(node, ck.declared_in):
                    continue
                ck.reads.append(KeyRead(node=node, kind=self.read_kind(node)))
        for ck in keys:
            ck.reads.sort(key=lambda r: self.pos(r.node))
        return keys

    def _within(self, node: ast.AST, outer: ast.AST) -> bool:
        cur: ast.AST | None = node
        while cur is not None:
            if cur is outer:
                return True
            cur = self.parents.get(cur)
        return False

    def _key_mentions(self, declared: set[int]) -> Iterator[tuple[ast.AST, str]]:
        for node in [*self.of_type(ast.Attribute), *self.of_type(ast.Constant)]:
            if id(node) in declared:
                continue
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                yield node, node.attr
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                parent = self.parents.get(node)
                if isinstance(parent, ast.Dict) and node in parent.keys:
                    continue  # a label in another dict (metrics, a payload), not a read
                if isinstance(parent, ast.Expr):
                    continue  # docstring
                if isinstance(parent, ast.Subscript) and not isinstance(parent.ctx, ast.Load):
                    continue
                if (
                    isinstance(parent, ast.Call)
                    and last_part(dotted(parent.func)) == "add_argument"
                ):
                    continue
                yield node, node.value

    def read_kind(self, node: ast.AST, depth: int = 0) -> str:
        """``applied`` / ``log`` / ``dead`` for one read of a config value (see module doc)."""
        cur = node
        while True:
            parent = self.parents.get(cur)
            if parent is None:
                return "applied"
            # Text built from the value (f-string, ``%``) carries it on: where the text goes
            # decides (``print`` is a log; ``[f"train.max_steps={n}"]`` handed to a loader is not).
            if isinstance(parent, ast.keyword):
                call = self.parents[parent]
                assert isinstance(call, ast.Call)
                if parent.arg not in _DATA_KEYWORDS and self.is_log_call(call):
                    return "applied"  # ``print(..., file=cfg["out"])`` configures the call
                return self._argument_kind(cur, call, depth)
            if isinstance(parent, ast.Call):
                if parent.func is cur:
                    cur = parent  # cfg["k"].lower()
                    continue
                return self._argument_kind(cur, parent, depth)
            if isinstance(parent, ast.IfExp) and parent.test is cur:
                return "applied"
            if isinstance(parent, ast.comprehension | ast.Lambda):
                return "applied"
            if isinstance(parent, ast.stmt):
                return self._statement_kind(cur, parent, depth)
            cur = parent

    def _argument_kind(self, arg: ast.AST, call: ast.Call, depth: int) -> str:
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Constant):
            return self.read_kind(call, depth)  # ``"lr={}".format(x)``: text, followed on
        if self.is_log_call(call):
            return "log"
        name = dotted(call.func) or ""
        if name in _TRANSPARENT or last_part(name) in {"get", "pop", "setdefault"}:
            return self.read_kind(call, depth)
        func = self.function_def(call)
        if func is not None:
            param = self.param_for(func, call, arg)
            if param is not None:
                return self._derived_kind([(id(func), param)], depth)
        return "applied"

    def _statement_kind(self, cur: ast.AST, stmt: ast.stmt, depth: int) -> str:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and stmt.value is cur:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            syms: list[Symbol] = []
            for target in targets:
                if isinstance(target, ast.Subscript | ast.Starred):
                    return "applied"
                syms.extend(s for s in self.target_symbols(target) if s is not None)
            return self._derived_kind(syms, depth)
        if isinstance(stmt, ast.Expr) and stmt.value is cur:
            # ``handlers.get(cfg["k"])()`` runs something; a bare ``cfg["k"]`` does nothing.
            return "applied" if isinstance(cur, ast.Call) else "dead"
        return "applied"

    def _derived_kind(self, syms: list[Symbol], depth: int) -> str:
        kinds = {self._symbol_kind(sym, depth) for sym in syms}
        if "applied" in kinds:
            return "applied"
        return "log" if "log" in kinds else "dead"

    def _symbol_kind(self, sym: Symbol, depth: int) -> str:
        """How the value held by ``sym`` is used, memoised: a value copied through many
        names would otherwise be re-traced once per path (exponential in generated code)."""
        self._kind_budget -= 1
        if depth > 6 or self._kind_budget < 0:
            return "applied"  # too far (or too much) to follow: assume it is used
        cached = self._kind_cache.get(sym)
        if cached is not None:
            return cached
        if sym in self._kind_active:
            self._cycle_hits += 1
            return "dead"  # a cycle (``x = x + cfg["k"]``) adds no new use
        self._kind_active.add(sym)
        hits = self._cycle_hits
        kinds = {self.read_kind(use, depth + 1) for use in self._uses.get(sym, [])}
        self._kind_active.discard(sym)
        # A result that leaned on an unfinished symbol of a cycle is provisional: not cached.
        provisional = self._cycle_hits != hits
        if "applied" in kinds:
            kind = "applied"
        elif "log" in kinds:
            kind = "log"
        elif sym[0] == id(self.tree) or "." in sym[1]:
            kind = "applied"  # a module global or an attribute may be read in other files
        else:
            kind = "dead"
        if not provisional:
            self._kind_cache[sym] = kind
        return kind

    def _containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        yield from self._dict_containers()
        yield from self._argparse_containers()
        yield from self._dataclass_containers()

    def _dict_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        for node in self.of_type(ast.Assign):
            if len(node.targets) != 1:
                continue
            target = node.targets[0]
            name = dotted(target)
            decls = self._dict_literal_keys(node.value)
            if name is None or decls is None or not _CONFIG_NAME.search(last_part(name)):
                continue
            flow = self.flow([self.symbol(target)])
            holder = self.parents.get(node)
            if isinstance(holder, ast.ClassDef):
                flow.escapes.append((node, "class attribute, read through instances"))
            elif holder is self.tree and not self.is_script:
                flow.escapes.append((node, "module global of a library module"))
            for update in flow.calls("update"):
                for arg in update.args:
                    decls.extend(self._dict_literal_keys(arg) or [])
                decls.extend(
                    (k.arg, k, literal_value(k.value), update) for k in update.keywords if k.arg
                )
            for use in flow.uses:
                parent = self.parents.get(use)
                if isinstance(parent, ast.Subscript) and parent.value is use:
                    key = const_str(parent.slice)
                    if isinstance(parent.ctx, ast.Store) and key is not None:
                        stmt = self.statement_of(parent)
                        value = stmt.value if isinstance(stmt, ast.Assign) else None
                        decls.append((key, parent.slice, literal_value(value), stmt))
                    elif key is None and isinstance(parent.ctx, ast.Load):
                        flow.escapes.append((use, "read with a computed key"))
                elif isinstance(parent, ast.Attribute) and parent.attr in {"get", "pop"}:
                    call = self.parents.get(parent)
                    if isinstance(call, ast.Call) and call.args and const_str(call.args[0]) is None:
                        flow.escapes.append((use, "read with a computed key"))
                elif isinstance(parent, ast.Attribute) and parent.attr in {
                    "items",
                    "keys",
                    "values",
                }:
                    call = self.parents.get(parent)
                    loop = self.parents.get(call) if call is not None else None
                    if not (isinstance(loop, ast.For) and self._only_logs(loop.body)):
                        flow.escapes.append((use, f".{parent.attr}()"))
            seen: set[str] = set()
            unique = []
            for decl in decls:
                if decl[0] not in seen:
                    seen.add(decl[0])
                    unique.append(decl)
            yield name, flow, unique, "dict"

    def _only_logs(self, body: list[ast.stmt]) -> bool:
        return all(
            isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and self.is_log_call(s.value)
            for s in body
        )

    def _dict_literal_keys(
        self, value: ast.AST
    ) -> list[tuple[str, ast.AST, Any, ast.AST | None]] | None:
        if isinstance(value, ast.Dict):
            out: list[tuple[str, ast.AST, Any, ast.AST | None]] = []
            for node, item in zip(value.keys, value.values, strict=True):
                if node is None:
                    continue  # ``**other`` merges keys declared elsewhere
                key = const_str(node)
                if key is None:
                    return None  # a computed key: not a literal config
                out.append((key, node, literal_value(item), item))
            return out or None
        if (
            isinstance(value, ast.Call)
            and dotted(value.func) == "dict"
            and not value.args
            and value.keywords
        ):
            return [(k.arg, k, literal_value(k.value), k.value) for k in value.keywords if k.arg]
        return None

    def _argparse_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        decls: list[tuple[str, ast.AST, Any, ast.AST | None]] = []
        for call in self.calls:
            if last_part(dotted(call.func)) != "add_argument" or not call.args:
                continue
            options = [const_str(a) for a in call.args]
            dest = next((const_str(k.value) for k in call.keywords if k.arg == "dest"), None)
            if dest is None:
                longs = [o for o in options if o and o.startswith("--")]
                first = longs[0] if longs else options[0]
                if first is None:
                    continue
                dest = first.lstrip("-").replace("-", "_")
            action = next((const_str(k.value) for k in call.keywords if k.arg == "action"), None)
            if action in {"version", "help"}:
                continue  # argparse acts on these itself; there is nothing to read
            default_node = next((k.value for k in call.keywords if k.arg == "default"), None)
            if default_node is not None:
                value = literal_value(default_node)
            else:
                value = {"store_true": False, "store_false": True}.get(action or "")
            decls.append((dest, call.args[0], value, call))
        if not decls:
            return
        seeds: list[Symbol | None] = []
        for call in self.calls:
            if last_part(dotted(call.func)) in {"parse_args", "parse_known_args"}:
                parent = self.parents.get(call)
                if isinstance(parent, ast.Assign):
                    target = parent.targets[0]
                    if isinstance(target, ast.Tuple) and target.elts:
                        seeds.append(self.symbol(target.elts[0]))
                    else:
                        seeds.append(self.symbol(target))
                elif isinstance(parent, ast.Return):
                    flow = Flow()
                    seeds.extend(self._returned(call, parent, flow))
                    if flow.escapes:
                        seeds.append(None)
                else:
                    seeds.append(None)
        flow = self.flow(s for s in seeds if s is not None)
        if None in seeds or not seeds:
            flow.escapes.append((self.tree, "the parsed arguments are not kept in a name"))
        yield "args", flow, decls, "argparse"

    def _dataclass_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        for cls in self.of_type(ast.ClassDef):
            if not _CONFIG_CLASS.search(cls.name):
                continue
            is_dataclass = any(
                "dataclass" in (dotted(d.func if isinstance(d, ast.Call) else d) or "")
                for d in cls.decorator_list
            )
            is_model = any(last_part(dotted(b)) in {"BaseModel", "BaseSettings"} for b in cls.bases)
            if not (is_dataclass or is_model):
                continue
            decls: list[tuple[str, ast.AST, Any, ast.AST | None]] = []
            for stmt in cls.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    value: Any = literal_value(stmt.value) if stmt.value is not None else ...
                    if isinstance(stmt.value, ast.Call) and last_part(dotted(stmt.value.func)) in {
                        "field",
                        "Field",
                    }:
                        default = next(
                            (k.value for k in stmt.value.keywords if k.arg == "default"), None
                        )
                        value = literal_value(default) if default is not None else ...
                    decls.append((stmt.target.id, stmt.target, value, stmt))
            if not decls:
                continue
            seeds: list[Symbol | None] = []
            flow = Flow()
            instantiated = False
            for node in [*self.of_type(ast.Name), *self.of_type(ast.arg)]:
                if (
                    isinstance(node, ast.Name)
                    and node.id == cls.name
                    and isinstance(node.ctx, ast.Load)
                ):
                    parent = self.parents.get(node)
                    if isinstance(parent, ast.Call) and parent.func is node:
                        instantiated = True
                        seeds.extend(self._call_results(parent, None))
                        grand = self.parents.get(parent)
                        if not isinstance(grand, ast.Assign | ast.AnnAssign):
                            passed = self._passed_to_local_function(parent)
                            if passed is not None:
                                seeds.append(passed)  # ``main(TrainConfig())``
                            else:
                                flow.escapes.append((parent, "instance not kept in a name"))
                    elif isinstance(parent, ast.arg):
                        continue
                    else:
                        flow.escapes.append((node, "class handed to other code"))
                elif isinstance(node, ast.arg) and dotted(node.annotation) == cls.name:
                    owner = self.parents.get(self.parents[node])
                    if owner is not None:
                        seeds.append((id(owner), node.arg))
            if not instantiated:
                # Built by code we cannot see (a library's config type): its readers are there.
                flow.escapes.append((cls, "never instantiated in this file"))
            inner = self.flow(s for s in seeds if s is not None)
            inner.escapes.extend(flow.escapes)
            yield cls.name, inner, decls, "dataclass"

    def keys_matching(self, pattern: re.Pattern[str]) -> list[ConfigKey]:
        return [k for k in self.config_keys if pattern.search(k.key)]

    def accumulation_guard(self, branches: tuple[tuple[ast.If, str], ...]) -> ast.If | None:
        """The innermost ``if`` that looks like an accumulation boundary test."""
        for node, _ in reversed(branches):
            test = node.test
            if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mod) for n in ast.walk(test)):
                return node
            if any(_ACCUM_TOKEN.search(t) for t in tokens(test)):
                return node
        return None

    def related(self, *nodes: ast.AST | None) -> tuple[tuple[int, int], ...]:
        return tuple(self.pos(n) for n in nodes if n is not None)
