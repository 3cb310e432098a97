"""CFG001 (key never read) and CFG002 (key only logged): positive and negative snippets."""

from __future__ import annotations

import pytest

POSITIVE = [
    pytest.param(
        "CFG001",
        """
        import torch
        config = {"learning_rate": 1e-3, "dropout": 0.1}
        opt = torch.optim.SGD(params, lr=config["learning_rate"])
        """,
        "dropout",
        id="cfg001-dict-key-unread",
    ),
    pytest.param(
        "CFG001",
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=1e-3)
        parser.add_argument("--ema-decay", type=float, default=0.999)
        args = parser.parse_args()
        run(lr=args.lr)
        """,
        "ema_decay",
        id="cfg001-argparse-dest-unread",
    ),
    pytest.param(
        "CFG001",
        """
        from dataclasses import dataclass

        @dataclass
        class TrainConfig:
            lr: float = 1e-3
            label_smoothing: float = 0.1

        def main(cfg: TrainConfig):
            return build(lr=cfg.lr)

        main(TrainConfig())
        """,
        "label_smoothing",
        id="cfg001-dataclass-field-unread",
    ),
    pytest.param(
        "CFG002",
        """
        config = dict(lr=1e-3, accumulation=4)
        print(f"accumulating {config['accumulation']} batches")
        opt = make(lr=config["lr"])
        """,
        "accumulation",
        id="cfg002-fstring-only",
    ),
    pytest.param(
        "CFG002",
        """
        import logging
        logger = logging.getLogger(__name__)
        cfg = {"lr": 1e-3, "ema_decay": 0.999}
        logger.info("ema decay %s", cfg["ema_decay"])
        opt = make(lr=cfg["lr"])
        """,
        "ema_decay",
        id="cfg002-logger-only",
    ),
    pytest.param(
        "CFG002",
        """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--weight_decay", type=float, default=0.05)
        args = p.parse_args()
        wd = args.weight_decay
        writer.add_text("hparams", f"wd={wd}")
        opt = make(lr=args.lr)
        """,
        "weight_decay",
        id="cfg002-argparse-through-name-to-writer",
    ),
]

NEGATIVE = [
    pytest.param(
        "CFG001",
        """
        config = {"lr": 1e-3, "dropout": 0.1}
        model = Net(dropout=config["dropout"])
        opt = make(lr=config.get("lr", 1e-4))
        """,
        id="cfg001-every-key-read",
    ),
    pytest.param(
        "CFG001",
        """
        from trainer_lib import fit
        config = {"lr": 1e-3, "dropout": 0.1}
        fit(config)
        """,
        id="cfg001-config-escapes-to-imported-code",
    ),
    pytest.param(
        "CFG001",
        """
        config = {"lr": 1e-3, "dropout": 0.1}
        model = Net(**config)
        """,
        id="cfg001-config-splatted",
    ),
    pytest.param(
        "CFG001",
        """
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--ema-decay", type=float, default=0.999)
        main(p.parse_args())
        """,
        id="cfg001-parsed-args-not-kept-in-a-name",
    ),
    pytest.param(
        "CFG002",
        """
        config = {"lr": 1e-3, "accumulation": 4}
        print(f"accumulating {config['accumulation']} batches")
        if step % config["accumulation"] == 0:
            opt = make(lr=config["lr"])
        """,
        id="cfg002-logged-and-applied",
    ),
    pytest.param(
        "CFG002",
        """
        config = {"lr": 1e-3, "run_name": "baseline", "project": "prior"}
        print(f"run {config['run_name']} in {config['project']}")
        opt = make(lr=config["lr"])
        """,
        id="cfg002-descriptive-keys-exist-to-be-logged",
    ),
    pytest.param(
        "CFG002",
        """
        cfg = {"epochs": 3, "lr": 1e-3}
        for epoch in range(cfg["epochs"]):
            print(epoch, cfg["lr"])
            train_epoch(lr=cfg["lr"])
        """,
        id="cfg002-loop-bound-is-applied",
    ),
]


@pytest.mark.parametrize(("code", "source", "key"), POSITIVE)
def test_rule_reports_the_key(audit, code: str, source: str, key: str) -> None:
    found = audit(source, select={code})
    assert [f.code for f in found] == [code]
    assert key in found[0].message
    assert found[0].fix


@pytest.mark.parametrize(("code", "source"), NEGATIVE)
def test_rule_stays_silent(codes, code: str, source: str) -> None:
    assert codes(source, select={code}) == []


def test_key_position_points_at_the_declaration(audit) -> None:
    found = audit(
        """
        config = {
            "lr": 1e-3,
            "unused_key": 7,
        }
        opt = torch.optim.SGD(params, lr=config["lr"])
        """,
        select={"CFG001"},
    )
    assert [(f.line, f.col) for f in found] == [(4, 5)]


def test_a_claim_that_is_not_a_literal_is_shown_as_its_source(audit) -> None:
    findings = audit(
        """
        import torch

        WARMUP = 20_000
        config = {"lr": 1e-4, "warmup_steps": WARMUP * 2}

        def main():
            model = torch.nn.Linear(2, 2)
            opt = torch.optim.AdamW(model.parameters(), lr=config["lr"])
            for _ in range(10):
                opt.step()

        if __name__ == "__main__":
            main()
        """,
        select={"CFG001"},
    )
    (finding,) = findings
    assert 'config["warmup_steps"] = WARMUP * 2' in finding.message
