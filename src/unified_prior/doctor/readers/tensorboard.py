"""TensorBoard event files, through tensorboard's own record reader.

``EventAccumulator`` keeps only 10,000 scalars per tag by reservoir sampling unless told
otherwise, and converts every event through its data-compat layer; we read raw records with
tensorboard's ``RawEventFileLoader`` and parse only the scalar summaries, keeping every
point. A run resumed with ``purge_step`` (or without) re-logs steps; the sink keeps the
newest value per (tag, step), and files are read oldest first (the number in an event file's
name is its creation time).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from unified_prior.doctor.evidence import Resume, Sink
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register
from unified_prior.doctor.readers.keys import normalise_key

_DT_FLOAT, _DT_DOUBLE, _DT_HALF, _DT_BFLOAT16 = 1, 2, 19, 14
_CREATED = re.compile(r"tfevents\.(\d+)")


def event_file_order(path: Path) -> tuple[int, str]:
    """Sort key: the creation time written in the file name, then the name."""
    match = _CREATED.search(path.name)
    return (int(match.group(1)) if match else 0, path.name)


def _tensor_scalar(tensor: object) -> float | None:
    """The value of a rank-0 float tensor proto (TF2-style scalar summaries)."""
    if getattr(tensor, "tensor_shape", None) is not None and tensor.tensor_shape.dim:  # type: ignore[attr-defined]
        return None
    dtype = tensor.dtype  # type: ignore[attr-defined]
    if dtype == _DT_FLOAT:
        if tensor.float_val:  # type: ignore[attr-defined]
            return float(tensor.float_val[0])  # type: ignore[attr-defined]
        content = tensor.tensor_content  # type: ignore[attr-defined]
        return struct.unpack("<f", content[:4])[0] if len(content) >= 4 else None
    if dtype == _DT_DOUBLE:
        if tensor.double_val:  # type: ignore[attr-defined]
            return float(tensor.double_val[0])  # type: ignore[attr-defined]
        content = tensor.tensor_content  # type: ignore[attr-defined]
        return struct.unpack("<d", content[:8])[0] if len(content) >= 8 else None
    return None


@register
class TensorBoardReader(Reader):
    name = "tensorboard"
    priority = 10

    @classmethod
    def claims(cls, path: Path) -> bool:
        return "tfevents" in path.name

    def read(self, path: Path, sink: Sink) -> ReadStats:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto import event_pb2

        head_bytes(path, 1)  # unreadable → InputError naming the file
        records = skipped = 0
        stream = str(path.parent)
        first_step: int | None = None
        tag_metric: dict[str, str | None] = {}
        parse = event_pb2.Event.FromString
        try:
            raw_events = RawEventFileLoader(str(path)).Load()
            for raw in raw_events:
                try:
                    event = parse(raw)
                except Exception:  # protobuf's DecodeError and friends: a damaged record
                    skipped += 1
                    continue
                if not event.HasField("summary"):
                    continue
                step = int(event.step)
                for value in event.summary.value:
                    tag = value.tag
                    if tag not in tag_metric:
                        tag_metric[tag] = normalise_key(tag)
                    metric = tag_metric[tag]
                    if metric is None or metric == "step":
                        continue
                    kind = value.WhichOneof("value")
                    if kind == "simple_value":
                        number: float | None = float(value.simple_value)
                    elif kind == "tensor":
                        number = _tensor_scalar(value.tensor)
                    else:
                        number = None
                    if number is None:
                        skipped += 1
                        continue
                    if first_step is None:
                        first_step = step
                    sink.point(metric, step, number, stream)
                    records += 1
        except Exception as err:  # the stub reader raises on a corrupt header CRC
            skipped += 1
            return ReadStats(
                records, skipped, f"stopped at a damaged record ({type(err).__name__})"
            )
        if first_step is not None and first_step > 0 and records:
            # A later event file of the same run that starts mid-way is a resumed session.
            sink.resumes.append(Resume(first_step, stream))
        return ReadStats(records, skipped)
