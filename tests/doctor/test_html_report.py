"""The doctor's HTML report: self-contained, plots that show what the findings say, and a
real headless Chromium that opens it without a console message and screenshots it.

The run is a re-creation of the original failure, written here on disk: a text log in the
original format (loss 6.0 → 0.06 at 25K → 6.74 at 90K), a ``config.json`` beside it that
declares warmup + cosine, and checkpoints every 5K in the original key layout whose AdamW
param groups all hold ``lr=1e-4`` and no ``initial_lr``.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

from unified_prior.doctor import Report, diagnose, render, write_reports
from unified_prior.doctor.report import plots

BEST_STEP, LAST_STEP, CKPT_EVERY = 25_000, 90_000, 5_000
CONFIG = {
    "lr_scheduler": "cosine",
    "warmup_steps": 20_000,
    "learning_rate": 1e-4,
    "max_steps": 450_000,
    "batch_size": 16,
}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def original_loss(step: int) -> float:
    """Log-linear 6.0 → 0.06 over the first 25K steps, then log-linear up to 6.74 at 90K."""
    if step <= BEST_STEP:
        return 6.0 * (0.06 / 6.0) ** (step / BEST_STEP)
    return 0.06 * (6.74 / 0.06) ** ((step - BEST_STEP) / (LAST_STEP - BEST_STEP))


def write_original_run(root: Path, *, checkpoints: bool = True) -> Path:
    """The original run as it lay on disk: train.log, config.json, checkpoints/."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines, stored = [], {}
    for step in range(0, LAST_STEP + 1, 100):
        loss = original_loss(step) * math.exp(rng.normal(0.0, 0.05))
        stored[step] = loss
        seconds = 6 * 3600 + step // 10  # 10 updates per second from 06:00
        stamp = f"2025-09-23 {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},000"
        lines.append(f"{stamp} - __main__ - INFO - Step {step:,}: Loss = {loss:.6f}")
        if step % CKPT_EVERY == 0 and step:
            lines.append(f"{stamp} - __main__ - INFO - Validation Loss: {loss * 1.03:.6f}")
    (root / "train.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "config.json").write_text(json.dumps(CONFIG, indent=2), encoding="utf-8")
    if checkpoints:
        torch.manual_seed(0)
        model = torch.nn.Linear(8, 8)
        # The original loop: AdamW at 1e-4 and optimizer.step() only, no scheduler built.
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model(torch.randn(4, 8)).square().mean().backward()
        optimizer.step()
        folder = root / "checkpoints"
        folder.mkdir()
        for step in range(CKPT_EVERY, LAST_STEP + 1, CKPT_EVERY):
            torch.save(
                {
                    "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(),
                    "step": step,
                    "config": dict(CONFIG),
                    "train_loss": stored[step],
                },
                folder / f"checkpoint_step_{step}.pt",
            )
    return root


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, str]:
    run = write_original_run(tmp_path_factory.mktemp("original") / "run")
    report = diagnose([run])
    return report, render(report, "html")


class _Collector(HTMLParser):
    """Tags, attributes and ids of a document, with the text of <style> and <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if "id" in values:
            self.ids.append(values["id"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def embedded_pngs(html: str) -> list[bytes]:
    return [
        base64.b64decode(m)
        for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    ]


def artist(fig: object, gid: str) -> object | None:
    """The first artist of ``fig`` whose gid is ``gid``."""
    found = fig.findobj(lambda a: a.get_gid() == gid)
    return found[0] if found else None


# ---------------------------------------------------------------------------------------
# Self-contained and correct, without a browser.


def test_html_is_self_contained(original: tuple[Report, str]) -> None:
    _, html = original
    doc = parse(html)
    active = [t for t, _ in doc.tags if t in ("script", "iframe", "object", "embed", "base")]
    assert active == []
    links = [a for t, a in doc.tags if t == "link"]
    assert links == [{"rel": "icon", "href": "data:,"}], "only the empty favicon"
    for tag, attrs in doc.tags:
        for name in ("src", "href", "srcset", "poster", "action"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), f"<{tag} {name}={value[:60]!r}>"
    assert "url(" not in doc.style and "@import" not in doc.style
    assert "http://" not in html and "https://" not in html
    csp = next(
        a["content"] for t, a in doc.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "img-src data:" in csp
    # Every in-page link lands on an element.
    anchors = {a["href"][1:] for t, a in doc.tags if a.get("href", "").startswith("#")}
    assert anchors and anchors <= set(doc.ids), anchors - set(doc.ids)
    assert len(doc.ids) == len(set(doc.ids)), "duplicate ids"


def test_html_embeds_both_plots_as_png(original: tuple[Report, str]) -> None:
    _, html = original
    images = embedded_pngs(html)
    assert len(images) == 2, "the LR plot and the loss plot"
    for data in images:
        width, height = png_size(data)
        assert width >= 900 and 300 <= height <= width
        assert len(data) > 20_000  # a drawn plot, not an empty canvas
    alts = [a.get("alt", "") for t, a in parse(html).tags if t == "img"]
    assert any("learning rate" in alt for alt in alts)
    assert any("best point" in alt for alt in alts)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    assert any("log axis" in c and "divergence from step" in c for c in captions), captions


def test_html_states_the_findings_of_the_original_run(original: tuple[Report, str]) -> None:
    report, html = original
    codes = {f.code for f in report.findings}
    assert {"LR001", "RUN001", "INF001", "INF002"} <= codes
    # Each finding is in the overview table, the errors and warnings also as call-outs.
    for finding in report.findings:
        assert f'<td class="code">{finding.code}</td>' in html
    assert 'id="finding-LR001"' in html and 'id="finding-RUN001"' in html
    assert "checkpoint_step_25000.pt" in html
    # The counterfactual: its table row at 90K and its verdict, as the doctor stated them.
    inf002 = next(f for f in report.findings if f.code == "INF002")
    last = inf002.evidence["key_steps"][-1]
    assert last["step"] == LAST_STEP and last["ratio"] == pytest.approx(0.937, abs=5e-4)
    assert f'<td class="num">{last["ratio"]:.4g}</td>' in html
    assert escape(str(inf002.evidence["statement"])) in html
    assert html.count('class="banner error"') == 1


def test_html_escapes_text_from_the_inputs(tmp_path: Path) -> None:
    # A folder name is text the report repeats: it must arrive as text, never as markup.
    name = "run<b onmouseover=alert(1)>&'\""
    run = write_original_run(tmp_path / name, checkpoints=False)
    html = render(diagnose([run]), "html")
    assert "<b onmouseover" not in html
    assert "run&lt;b onmouseover=alert(1)&gt;&amp;" in html
    assert not [t for t, _ in parse(html).tags if t == "b"]


def test_html_of_checkpoints_without_losses_has_only_the_lr_plot(tmp_path: Path) -> None:
    # Evidence from checkpoints alone (no log, no stored loss): the LR plot still shows the
    # constant 1e-4 against the declared plan, and the report says there is no loss curve.
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for step in (5_000, 10_000, 15_000, 20_000, 25_000):
        torch.save(
            {
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "step": step,
                "config": dict(CONFIG),
            },
            tmp_path / f"checkpoint_step_{step}.pt",
        )
    report = diagnose([tmp_path])
    assert report.trajectory is None and plots.loss_figure(report) is None
    html = render(report, "html")
    assert len(embedded_pngs(html)) == 1
    alts = [a.get("alt", "") for t, a in parse(html).tags if t == "img"]
    assert len(alts) == 1 and "learning rate" in alts[0]
    assert 'id="finding-LR001"' in html


TRAIN_SCRIPT = """
import torch

config = {"lr_scheduler": "cosine", "warmup_steps": 20000, "learning_rate": 1e-4,
          "max_steps": 450000, "gradient_accumulation_steps": 4, "max_grad_norm": 1.0}
model = torch.nn.Linear(4, 4)
optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"])
for step in range(config["max_steps"]):
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def test_html_with_script_findings_lists_each_once_with_unique_ids(
    original: tuple[Report, str], tmp_path: Path
) -> None:
    # The original loop: it declares a schedule, accumulation and clipping, applies none.
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT, encoding="utf-8")
    report = diagnose(original[0].paths, script=script)
    from_script = [f for f in report.findings if f.evidence.get("source") == "uprior audit"]
    assert from_script, "uprior audit found nothing in the original loop"
    html = render(report, "html")
    doc = parse(html)
    assert len(doc.ids) == len(set(doc.ids)), "duplicate ids"
    # Messages arrive whole (`code` spans become <code> elements).
    plain = html.replace("<code>", "`").replace("</code>", "`")
    for finding in from_script:
        assert escape(finding.message) in plain
    table = html.split('<h2 id="findings">', 1)[1].split("<h2", 1)[0]
    assert table.count("<tr>") == len(report.findings) + 1  # + the header row


def test_write_reports_puts_the_html_beside_the_others(
    original: tuple[Report, str], tmp_path: Path
) -> None:
    report, html = original
    written = write_reports(report, tmp_path / "report")
    assert written["html"].read_text(encoding="utf-8") == html


# ---------------------------------------------------------------------------------------
# The plots draw what the findings say.


def test_loss_plot_marks_best_divergence_and_checkpoints(original: tuple[Report, str]) -> None:
    report, _ = original
    traj = report.trajectory
    assert traj is not None
    fig = plots.loss_figure(report)
    assert fig is not None
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    best = artist(fig, "best-point")
    assert best is not None
    assert best.get_xdata()[0] == traj.best_step
    assert abs(traj.best_step - BEST_STEP) <= 0.02 * BEST_STEP
    span = artist(fig, "divergence")
    assert span is not None and traj.onset_step is not None
    # axvspan is a Rectangle in data x (blended with axes y).
    x0 = span.get_x()
    x1 = x0 + span.get_width()
    assert (x0, x1) == (traj.onset_step, LAST_STEP)
    assert BEST_STEP < traj.onset_step < LAST_STEP
    marks = artist(fig, "checkpoints")
    assert marks is not None
    assert list(marks.get_xdata()) == list(range(CKPT_EVERY, LAST_STEP + 1, CKPT_EVERY))
    chosen = artist(fig, "best-checkpoint")
    assert chosen is not None and chosen.get_xdata()[0] == BEST_STEP
    labels = ax.get_legend_handles_labels()[1]
    assert f"best {traj.best_loss:.3g} at {traj.best_step:,}" in labels


def test_lr_plot_shows_applied_against_declared(original: tuple[Report, str]) -> None:
    report, _ = original
    fig = plots.lr_figure(report)
    assert fig is not None
    applied = artist(fig, "applied-lr")
    declared = artist(fig, "declared-plan")
    assert applied is not None and declared is not None
    assert np.allclose(applied.get_ydata(), 1e-4)
    steps = np.asarray(declared.get_xdata())
    values = np.asarray(declared.get_ydata())
    assert steps[-1] == LAST_STEP
    assert values[-1] == pytest.approx(9.3666e-5, rel=1e-4)  # DESIGN §3: cosine at 90K
    assert values[0] == pytest.approx(1e-6, rel=1e-6)  # warmup starts at 1 % of peak
    assert artist(fig, "divergence") is not None
    assert artist(fig, "checkpoints") is not None


def test_plots_of_a_healthy_run_mark_no_divergence(tmp_path: Path) -> None:
    lines = [
        json.dumps({"step": s, "loss": 4.0 * math.exp(-s / 3000), "lr": 1e-3})
        for s in range(0, 10_000, 10)
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = diagnose([tmp_path / "metrics.jsonl"])
    fig = plots.loss_figure(report)
    assert fig is not None
    assert artist(fig, "divergence") is None and artist(fig, "best-checkpoint") is None
    assert artist(fig, "best-point") is not None
    lr_fig = plots.lr_figure(report)
    assert lr_fig is not None and artist(lr_fig, "declared-plan") is None
    assert '<div class="banner info">' in render(report, "html")


def test_loss_plot_goes_linear_for_non_positive_losses_and_marks_nan(tmp_path: Path) -> None:
    # A loss that can be negative (e.g. an ELBO-style objective) cannot sit on a log axis;
    # NaNs are drawn as marks on the top edge at the steps where they happened.
    values = [1.0 - s / 500 for s in range(0, 1000, 5)]
    lines = [
        json.dumps({"step": s, "loss": v}) for s, v in zip(range(0, 1000, 5), values, strict=True)
    ]
    lines += [f'{{"step": {s}, "loss": NaN}}' for s in (1000, 1005)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = diagnose([tmp_path / "metrics.jsonl"])
    fig = plots.loss_figure(report)
    assert fig is not None
    assert fig.axes[0].get_yscale() == "linear"
    nan_marks = artist(fig, "non-finite")
    assert nan_marks is not None
    assert list(nan_marks.get_xdata()) == [1000, 1005]


def test_pngs_are_reproducible(original: tuple[Report, str]) -> None:
    report, _ = original
    assert plots.loss_plot(report) == plots.loss_plot(report)


# ---------------------------------------------------------------------------------------
# A real browser.


def find_chromium() -> str:
    """The Chromium binary; a failure in CI (where the Makefile installs it), else a skip."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = (
        "headless Chromium not found (tried " + ", ".join(CHROMIUM_NAMES) + "); "
        "install it with `apt-get install -y chromium`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def open_in_chromium(binary: str, page: Path, shot: Path, size: tuple[int, int]) -> list[str]:
    """Load ``page``, write a screenshot, return every console line Chromium logged."""
    profile = shot.parent / f"profile-{shot.stem}"
    command = [
        binary,
        "--headless",
        "--no-sandbox",  # tests run as root in CI, where the sandbox refuses to start
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={shot}",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # Console messages (errors, warnings, CSP violations, uncaught exceptions) are logged as
    # "...:CONSOLE:<line>] "<message>", source: ..." on stderr.
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def colour_pixels(image: np.ndarray, hex_colour: str, tolerance: int = 24) -> int:
    """How many pixels of ``image`` (H×W×3 or 4, 0..255) are within ``tolerance`` of a colour."""
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int32)
    rgb = image[..., :3].astype(np.int32)
    return int((np.abs(rgb - target).max(axis=-1) <= tolerance).sum())


@pytest.mark.browser
def test_chromium_reports_console_errors_of_a_broken_page(tmp_path: Path) -> None:
    # The control: without it, the test below would pass if Chromium stopped logging.
    binary = find_chromium()
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        '<img src="https://example.invalid/x.png"><script>missing();</script></body></html>',
        encoding="utf-8",
    )
    console = open_in_chromium(binary, page, tmp_path / "broken.png", (400, 300))
    assert any("Uncaught ReferenceError" in line for line in console), console
    assert any("Content Security Policy" in line for line in console), console


@pytest.mark.browser
def test_html_report_opens_in_chromium(original: tuple[Report, str], tmp_path: Path) -> None:
    binary = find_chromium()
    report, _ = original
    page = write_reports(report, tmp_path / "report")["html"]
    shot = tmp_path / "report.png"
    width, height = 1200, 5000
    console = open_in_chromium(binary, page, shot, (width, height))
    assert console == [], "\n".join(console)

    data = shot.read_bytes()
    assert png_size(data) == (width, height)
    assert len(data) > 100_000, "a rendered report, not a blank page"
    from matplotlib.image import imread

    image = (imread(io.BytesIO(data), format="png") * 255).astype(np.uint8)
    # The embedded plots rendered (a broken image shows only its alt text): the loss curve,
    # the applied LR and the best-point/best-checkpoint marks are on screen in their colours.
    assert colour_pixels(image, plots.LOSS_COLOR) > 1500
    assert colour_pixels(image, plots.APPLIED_COLOR) > 1500
    assert colour_pixels(image, plots.BEST_COLOR) > 300
    # Mostly white page with real content: neither blank nor a solid error colour.
    white = colour_pixels(image, "#ffffff", tolerance=2) / (width * height)
    assert 0.3 < white < 0.95
