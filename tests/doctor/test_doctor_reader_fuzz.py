"""Readers never raise on content: arbitrary text and bytes written to a file of every
extension the doctor reads give Evidence (junk counted as skipped), or, for a checkpoint named
on the command line that does not load, an InputError naming it (exit 2)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unified_prior.doctor.readers import read_inputs
from unified_prior.errors import InputError

NAMES = (
    "train.log",
    "out.txt",
    "metrics.csv",
    "metrics.tsv",
    "log.jsonl",
    "log.json",
    "trainer_state.json",
    "config.yaml",
    "config.toml",
    "events.out.tfevents.1700000000.host.1.0",
    "checkpoint_step_000100.pt",
    "model.pth",
    "last.ckpt",
)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")

# Text that looks enough like logs to reach the parsers' deeper branches.
LOGGISH = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "Step 1,000: Loss = nan",
                "step 5 | loss 1e400 | lr -1",
                "{'loss': 1, 'learning_rate': [1]}",
                '{"kind": "header", "plan": [{"start_step": -1}]}',
                '{"step": 1e30, "loss": "inf"}',
                "step,loss,lr",
                '1,"2,3',
                "Validation Loss: ,",
                "[schedule]\nkind = 1",
                "a: [b",
            ]
        ),
    ),
    max_size=20,
).map("\n".join)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _read(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            evidence = read_inputs([path])
        except InputError as err:
            # Only a checkpoint that does not load is an input error, and it is named.
            assert path.suffix in CHECKPOINT_SUFFIXES, err
            assert str(path) in str(err)
            return
        summaries = [i for i in evidence.inputs if i.path == str(path)]
        assert len(summaries) == 1
        for series in evidence.series.values():
            assert (series.steps[1:] > series.steps[:-1]).all()
        # Reading the folder instead of the file never raises for any format.
        read_inputs([Path(tmp)])


@SETTINGS
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=2000))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    _read(name, data)


@SETTINGS
@given(name=st.sampled_from(NAMES), text=LOGGISH)
def test_arbitrary_text(name: str, text: str) -> None:
    _read(name, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(text=LOGGISH, cut=st.integers(min_value=0, max_value=4000))
def test_truncated_real_tensorboard_file(tmp_path_factory, text: str, cut: int) -> None:
    """A real event file cut anywhere, with junk appended, still reads (up to the damage)."""
    from doctor_builders import write_tb_session

    logdir = tmp_path_factory.mktemp("tb")
    event = write_tb_session(logdir, {"loss": [(s, 1.0 / (s + 1)) for s in range(200)]})
    event.write_bytes(event.read_bytes()[:cut] + text.encode("utf-8", "surrogatepass"))
    evidence = read_inputs([event])
    assert len(evidence.series.get("loss", ())) <= 200
