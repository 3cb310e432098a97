"""Claims that live in YAML/JSON/TOML files: the ones a script loads by a literal path
(``yaml.safe_load(open("configs/train.yaml"))``, ``OmegaConf.load("cfg.yaml")``), and, when
the script loads a config from a path it is given (``--config``), the ones beside it.

Each leaf key becomes a claim located in its file (path, line), so a finding points at the
line of the YAML that lies. The loaded object is followed like any config container: if it
is handed to code we cannot see, its keys are not judged.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from unified_prior.audit.model.tree import dotted, last_part

CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
#: Calls that load a config file's contents.
LOADERS = frozenset(
    {"safe_load", "load", "full_load", "unsafe_load", "loads", "load_config", "read_config"}
)
LOADER_MODULES = ("yaml", "json", "toml", "tomllib", "tomli", "OmegaConf", "omegaconf", "ruamel")
#: Config files larger than this are data, not settings.
MAX_CONFIG_BYTES = 1024 * 1024


def file_node(path: Path, key: str, line: int, col: int) -> ast.Constant:
    """A stand-in syntax node for a key declared in a config file: rules place findings with
    nodes, and this one carries the file (``audit_path``) and the key's line."""
    node = ast.Constant(value=key)
    node.lineno, node.col_offset = line, col
    node.end_lineno, node.end_col_offset = line, col + len(key)
    node.audit_path = str(path)  # type: ignore[attr-defined]
    return node


def leaf_keys(path: Path) -> list[tuple[str, Any, int, int]]:
    """(key, value, line, col) of every leaf of a config file; [] when it cannot be read."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES or not path.is_file():
            return []
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        if path.suffix in {".yaml", ".yml"}:
            return list(_yaml_leaves(yaml.compose(text, Loader=yaml.SafeLoader)))
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return []
    lines = text.splitlines()
    return [(k, v, *_find_line(lines, k)) for k, v in _plain_leaves(data)]


def _yaml_leaves(node: Any, depth: int = 0) -> Iterator[tuple[str, Any, int, int]]:
    if not isinstance(node, yaml.MappingNode) or depth > 50:
        return
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        if isinstance(value_node, yaml.MappingNode):
            yield from _yaml_leaves(value_node, depth + 1)
            continue
        value: Any = ...
        if isinstance(value_node, yaml.ScalarNode):
            try:
                value = (
                    yaml.safe_load(value_node.value)
                    if value_node.style is None
                    else value_node.value
                )
            except yaml.YAMLError:
                value = value_node.value
        mark = key_node.start_mark
        yield str(key_node.value), value, mark.line + 1, mark.column + 1


def _plain_leaves(data: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict) or depth > 50:
        return
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _plain_leaves(value, depth + 1)
        else:
            yield str(key), value


def _find_line(lines: list[str], key: str) -> tuple[int, int]:
    pattern = re.compile(rf"""(^|["'\s]){re.escape(key)}["']?\s*[:=]""")
    for number, line in enumerate(lines, 1):
        match = pattern.search(line)
        if match:
            return number, match.start() + 1 + (1 if match.group(1) else 0)
    return 1, 1


def is_loader(call: ast.Call, qualified: str) -> bool:
    """``yaml.safe_load(...)``, ``json.load(...)``, ``tomllib.load(...)``, ``OmegaConf.load``."""
    return last_part(qualified) in LOADERS and qualified.split(".", 1)[0] in LOADER_MODULES


def literal_paths(call: ast.Call, bound: dict[str, ast.AST]) -> list[str]:
    """Config file names written literally in the loader call, or in the ``open(...)`` that
    bound the name it reads (``with open("cfg.yaml") as f: yaml.safe_load(f)``)."""
    found: list[str] = []
    todo: list[ast.AST] = [*call.args, *(k.value for k in call.keywords)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and node.id in bound:
            todo.append(bound.pop(node.id))
            continue
        for sub in ast.walk(node):
            value = sub.value if isinstance(sub, ast.Constant) else None
            if isinstance(value, str) and value.lower().endswith(CONFIG_SUFFIXES):
                found.append(value)
    return found


def opened_names(tree: ast.AST) -> dict[str, ast.AST]:
    """``with open(X) as f`` / ``f = open(X)``: the expression each file name was opened from."""
    out: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name):
                    out[item.optional_vars.id] = item.context_expr
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and last_part(dotted(node.value.func)) == "open"
        ):
            out[node.targets[0].id] = node.value
    return out


def resolve(name: str, script: Path, root: Path | None) -> Path | None:
    """A literal config path, tried against the script's folder and the project root."""
    candidates = [script.parent / name]
    if root is not None:
        candidates.append(root / name)
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except OSError:
            continue
    return None


#: YAML files beside a script that configure tools, not runs.
NOT_RUN_CONFIGS = frozenset(
    {"environment.yml", "environment.yaml", "mkdocs.yml", "mkdocs.yaml", "codecov.yml",
     "docker-compose.yml", "docker-compose.yaml", "citation.cff", "action.yml", "action.yaml"}
)  # fmt: skip


def loads_yaml(qualified: str) -> bool:
    return qualified.split(".", 1)[0] in {"yaml", "OmegaConf", "omegaconf", "ruamel"}


def beside(script: Path) -> list[Path]:
    """YAML run configs in the script's own folder (not dotfiles, not tool configs)."""
    try:
        return sorted(
            p
            for p in script.parent.iterdir()
            if p.suffix in {".yaml", ".yml"}
            and not p.name.startswith(".")
            and p.name.lower() not in NOT_RUN_CONFIGS
        )
    except OSError:
        return []
