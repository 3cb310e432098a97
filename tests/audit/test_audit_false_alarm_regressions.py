"""False alarms found by auditing real code (the installed torch package and known-correct
training scripts), each re-created in a few lines; every one must stay silent."""

from __future__ import annotations

import pytest

SILENT = [
    pytest.param(
        "CFG001",
        """
        def valid_command_options(commands):
            valid_options = {"global": {"verbose", "quiet"}}
            for cmd in commands:
                valid_options[cmd] = valid_options.get(cmd, set()) | {"help"}
            return valid_options

        print(valid_command_options(["build"]))
        """,
        id="dict-read-with-a-computed-key-through-get",
    ),
    pytest.param(
        "CFG001",
        """
        PRINT_OPTIONS = {"threshold": 6, "edgeitems": 2}
        DEFAULT_CONFIG = {"lr": 1e-3, "dropout": 0.1}

        def build(config=None):
            return Net(lr=(config or DEFAULT_CONFIG)["lr"])
        """,
        id="library-module-globals-are-read-by-importers",
    ),
    pytest.param(
        "CFG001",
        """
        class Viewer:
            options = {"compress_level": 1, "save_all": True}

            def show(self, image):
                image.save("x.png", **self.options)
        """,
        id="class-attribute-container-read-through-self",
    ),
    pytest.param(
        "CFG001",
        """
        from markdown.extensions import Extension

        class CodeHilite(Extension):
            def __init__(self, **kwargs):
                self.config = {"noclasses": [False, "Use inline styles"], "linenums": [None, ""]}
                super().__init__(**kwargs)
        """,
        id="self-config-read-by-a-base-class-elsewhere",
    ),
    pytest.param(
        "CFG001",
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--version", action="version", version="1.0")
        parser.add_argument("--lr", type=float, default=1e-3)
        args = parser.parse_args()
        run(args.lr)
        """,
        id="argparse-version-action",
    ),
    pytest.param(
        "CFG001",
        """
        import sys
        def error(prog, message):
            args = {"prog": prog, "message": message}
            sys.stderr.write("%(prog)s: error: %(message)s" % args)
        error("x", "y")
        """,
        id="dict-used-as-format-mapping",
    ),
    pytest.param(
        "CFG002",
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("action", type=int, choices=[1, 2])
        args = parser.parse_args()
        switch = {1: run_one, 2: run_two}
        switch.get(args.action, lambda: print("Invalid input."))()
        """,
        id="value-selects-a-function-that-is-called",
    ),
    pytest.param(
        "CFG002",
        """
        import argparse
        from rich.console import Console
        parser = argparse.ArgumentParser()
        parser.add_argument("--soft-wrap", action="store_true")
        args = parser.parse_args()
        Console().print(text, soft_wrap=args.soft_wrap)
        """,
        id="keyword-setting-of-a-print-call-is-applied",
    ),
    pytest.param(
        "CFG001",
        """
        import argparse
        import f2py_aux
        def scan(argv):
            options = {"buildpath": "build", "emptygen": True}
            f2py_aux.options = options
        scan([])
        """,
        id="container-stored-on-another-module",
    ),
    pytest.param(
        "CFG001",
        """
        from dataclasses import dataclass

        @dataclass
        class ExportConfig:
            allow_rnn: bool = True
            verbose: bool = False
        """,
        id="library-config-type-built-by-other-modules",
    ),
    pytest.param(
        "CFG001",
        """
        import json
        DUMP_OPTIONS = {"indent": 2, "sort_keys": True}
        text = json.dumps(payload, **DUMP_OPTIONS)
        """,
        id="options-unpacked-into-a-call-are-applied",
    ),
    pytest.param(
        "CFG002",
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--test_bailouts", action="store_true")
        args, remaining = parser.parse_known_args()
        TEST_BAILOUTS = args.test_bailouts
        """,
        id="module-global-copy-is-read-by-importers",
    ),
    pytest.param(
        "SCH002",
        """
        def get_scheduler_class(kind):
            return {"tile": TileScheduler}[kind]

        TileSchedulerCls = get_scheduler_class("tile")
        params = get_schedule_param(opt)
        """,
        id="functions-named-like-hf-factories-are-not-schedulers",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        from torch.optim.lr_scheduler import StepLR, ExponentialLR
        SCHEDULERS = [
            lambda opt: StepLR(opt, gamma=0.1, step_size=10),
            lambda opt: ExponentialLR(opt, gamma=0.9),
        ]
        """,
        id="scheduler-factories-in-lambdas",
    ),
    pytest.param(
        "SCH002",
        """
        import torch

        class Runner:
            def __init__(self, model):
                self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=5)

        runner = Runner(model)
        for epoch in range(10):
            runner.optimizer.step()
            runner.scheduler.step()
        """,
        id="scheduler-attribute-stepped-through-an-instance",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        from torch.optim.lr_scheduler import LRScheduler, StepLR
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler: LRScheduler = StepLR(optimizer, step_size=5)
        for epoch in range(10):
            optimizer.step()
            scheduler.step()
        """,
        id="annotated-assignment-is-followed",
    ),
    pytest.param(
        "CFG001",
        """
        import argparse
        from lightning_lib import Trainer
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=1e-3)
        parser.add_argument("--ema_decay", type=float, default=0.999)
        args = parser.parse_args()
        Trainer(vars(args)).fit()
        """,
        id="vars-of-args-handed-to-unseen-code",
    ),
    pytest.param(
        "CKP001",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, s / 100), last_epoch=start_step - 1
        )
        for step in range(start_step, 1000):
            optimizer.step()
            scheduler.step()
            torch.save({"optimizer": optimizer.state_dict(), "step": step}, "last.pt")
        """,
        id="scheduler-rebuilt-from-the-saved-step",
    ),
]


@pytest.mark.parametrize(("code", "source"), SILENT)
def test_stays_silent(codes, code: str, source: str) -> None:
    assert codes(source, select={code}) == []


def test_getattr_with_a_constant_reads_one_key_and_keeps_the_others_checked(codes) -> None:
    source = """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=1e-3)
        parser.add_argument("--ema", type=float, default=0.999)
        parser.add_argument("--unused_flag", type=int, default=3)
        args = parser.parse_args()
        make(lr=args.lr, ema=getattr(args, "ema", 0.999))
        """
    assert codes(source, select={"CFG001"}) == ["CFG001"]


def test_annotated_scheduler_never_stepped_is_still_sch002(codes) -> None:
    source = """
        import torch
        from torch.optim.lr_scheduler import LRScheduler, StepLR
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler: LRScheduler = StepLR(optimizer, step_size=5)
        for epoch in range(10):
            optimizer.step()
        """
    assert codes(source) == ["SCH002"]


def test_densely_aliased_code_is_traced_within_a_budget_and_judged_conservatively(codes) -> None:
    """Each name feeds every other one: an untamed tracer explores exponentially many paths.
    The audit stops following at its budget and treats the key as used (no CFG002)."""
    width = 30
    lines = ['config = {"a": 1}', "def f():", '    x_0 = config["a"]']
    for _ in range(2):
        for k in range(width):
            lines.append(f"    x_{k} = " + " + ".join(f"x_{j}" for j in range(width)))
    lines.append("    print(x_0)")
    assert codes("\n".join(lines) + "\n") == []
