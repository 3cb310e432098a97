"""False alarms found by auditing whole real repositories as projects (yolov5, nanochat),
re-created in our own code: each must stay silent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def audit_dir(folder: Path, *select: str) -> list[tuple[str, str]]:
    args = [sys.executable, "-m", "unified_prior", "audit", "--format", "json", str(folder)]
    for code in select:
        args += ["--select", code]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode in {0, 1}, result.stderr
    return [(Path(f["path"]).name, f["code"]) for f in json.loads(result.stdout)]


def test_tool_configs_beside_a_script_are_not_its_claims(tmp_path: Path) -> None:
    """A script that loads its config from ``--config`` does not claim pyproject.toml or a
    JSON file that merely sit in the same folder."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.0"\n')
    (tmp_path / "sweep.json").write_text('{"algorithm": "random", "trials": 1}\n')
    (tmp_path / "train.py").write_text(
        "import argparse\nimport tomllib\nimport json\n\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--config', required=True)\n"
        "args = parser.parse_args()\n"
        "with open(args.config, 'rb') as f:\n"
        "    config = tomllib.load(f)\n"
        "print(config['name'])\n"
    )
    assert audit_dir(tmp_path, "CFG") == []


def test_checkpoint_key_holding_none_is_not_optimizer_state(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import torch\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda e: 0.9**e)\n"
        "for epoch in range(10):\n"
        "    for batch in loader:\n"
        "        model(batch).backward()\n"
        "        optimizer.step()\n"
        "    scheduler.step()\n"
        "    torch.save({'epoch': epoch, 'model': model, 'optimizer': None}, 'last.pt')\n"
    )
    assert audit_dir(tmp_path, "CKP") == []


def test_config_of_an_instance_handed_to_other_code_is_not_judged(tmp_path: Path) -> None:
    """``Engine(MockModel())`` may read ``model.config.n_head``: the dataclass's fields are
    not 'never read' just because this file does not read them."""
    (tmp_path / "test_engine.py").write_text(
        "from dataclasses import dataclass\n"
        "from nanoengine import Engine\n\n"
        "@dataclass\n"
        "class MockConfig:\n"
        "    n_head: int = 4\n"
        "    n_layer: int = 2\n\n"
        "class MockModel:\n"
        "    def __init__(self):\n"
        "        self.config = MockConfig()\n\n"
        "def test_engine():\n"
        "    model = MockModel()\n"
        "    engine = Engine(model)\n"
        "    assert engine.generate([1, 2])\n"
    )
    assert audit_dir(tmp_path, "CFG") == []
