"""TensorBoard event files, read record by record without tensorboard's loaders.

An event file is TFRecord framing (``uint64 length, uint32 masked CRC-32C of the length,
payload, uint32 masked CRC-32C of the payload``) around ``Event`` protos. We walk the framing
ourselves over one ``bytes`` read, check both CRCs with ``google-crc32c`` (C), and parse each
payload with tensorboard's compiled ``Event`` proto; only scalar summaries are kept, every
point of them. tensorboard's ``EventAccumulator`` instead keeps 10,000 scalars per tag by
reservoir sampling unless told otherwise, and pushes every event through its data-compat
layer, which is what makes it several times slower.

Tags are mapped with the same ``keys.layout`` as every table reader, so a YOLO run gives the
same ``loss`` (sum of ``train/*_loss``) and ``lr`` (group 1) from its event file as from its
``results.csv``. Files are read oldest first (the number in an event file's name is its
creation time); a later file that starts mid-way is a resumed session, one that starts where
the folder's first file started is another run in the same folder.
"""

from __future__ import annotations

import re
import struct
from array import array
from pathlib import Path

import numpy as np

from unified_prior.doctor.evidence import Resume, Sink
from unified_prior.doctor.readers.base import Reader, ReadStats, register
from unified_prior.doctor.readers.columns import read_bytes
from unified_prior.doctor.readers.keys import classify, layout

_DT_FLOAT, _DT_DOUBLE = 1, 2
_CREATED = re.compile(r"tfevents\.(\d+)")
_FRAME = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
#: A record longer than this is not a scalar event (and may be a corrupt length).
MAX_RECORD_BYTES = 256 << 20


def event_file_order(path: Path) -> tuple[int, str]:
    """Sort key: the creation time written in the file name, then the name."""
    match = _CREATED.search(path.name)
    return (int(match.group(1)) if match else 0, path.name)


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


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


def read_scalars(data: bytes) -> tuple[dict[str, tuple[array[int], array[float]]], int, str]:
    """(tag → (steps, values) in file order, records skipped, note) of one event file."""
    import google_crc32c
    from tensorboard.compat.proto import event_pb2

    crc = google_crc32c.value
    parse = event_pb2.Event.FromString
    tags: dict[str, tuple[array[int], array[float]]] = {}
    skipped = 0
    note = ""
    pos, size = 0, len(data)
    while pos < size:
        if pos + 12 > size:
            note = "the last record is cut short"
            break
        length, length_crc = _FRAME.unpack_from(data, pos)
        c = crc(data[pos : pos + 8])
        if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != length_crc:
            note = "stopped at a damaged record (length CRC)"
            skipped += 1
            break
        start, end = pos + 12, pos + 12 + length
        if length > MAX_RECORD_BYTES or end + 4 > size:
            note = "the last record is cut short"
            skipped += 1
            break
        payload = data[start:end]
        (payload_crc,) = _CRC.unpack_from(data, end)
        pos = end + 4
        c = crc(payload)
        if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != payload_crc:
            skipped += 1  # framing intact: skip this record, keep reading
            continue
        try:
            event = parse(payload)
        except Exception:  # protobuf's DecodeError and friends: a damaged record
            skipped += 1
            continue
        if not event.HasField("summary"):
            continue
        step = event.step
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number: float | None = value.simple_value
            elif kind == "tensor":
                number = _tensor_scalar(value.tensor)
            else:
                continue
            if number is None or step < 0:
                skipped += 1
                continue
            entry = tags.get(value.tag)
            if entry is None:
                entry = tags[value.tag] = (array("q"), array("d"))
            entry[0].append(step)
            entry[1].append(number)
    return tags, skipped, note


def _first_log(chosen: dict[str, tuple[np.ndarray, np.ndarray]], first: int) -> bool:
    """Whether ``first`` is just the first logging interval (HF logs first at step
    ``logging_steps``): the series' first step is no more than its spacing."""
    for metric in ("loss", "lr", "val_loss"):
        steps = chosen.get(metric, (np.empty(0, np.int64),))[0]
        if steps.size >= 2:
            return first <= int(steps[1] - steps[0])
    return False


def _newest(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    keep = np.append(steps[1:] != steps[:-1], True)
    return steps[keep], values[keep]


@register
class TensorBoardReader(Reader):
    name = "tensorboard"
    priority = 10

    @classmethod
    def claims(cls, path: Path) -> bool:
        return "tfevents" in path.name

    def read(self, path: Path, sink: Sink) -> ReadStats:
        data = read_bytes(path)
        tags, skipped, note = read_scalars(data)
        stream = str(path.parent)
        arrays = {
            tag: (np.frombuffer(s, dtype=np.int64), np.frombuffer(v, dtype=np.float64))
            for tag, (s, v) in tags.items()
        }
        plan = layout(tuple(arrays))
        chosen: dict[str, tuple[np.ndarray, np.ndarray]] = {
            metric: arrays[key] for metric, key in plan.main.items()
        }
        for metric, keys in plan.parts.items():
            # Tags arrive one event each: the sum is taken at the steps every part has.
            parts = [_newest(*arrays[k]) for k in keys]
            common = parts[0][0]
            for steps, _ in parts[1:]:
                common = np.intersect1d(common, steps, assume_unique=True)
            total = np.zeros(common.size)
            for key, (steps, values) in zip(keys, parts, strict=True):
                total += values[np.searchsorted(steps, common)]
                chosen[f"{metric}/{key}"] = (steps, values)
            chosen[metric] = (common, total)
        records = sum(arrays[k][0].size for k in plan.main.values())
        records += sum(arrays[k][0].size for keys in plan.parts.values() for k in keys)
        firsts = [int(s[0]) for s, _ in chosen.values() if s.size]
        if firsts:
            first = min(firsts)
            known = sink.first_step(stream)
            if known is not None and first <= known:
                sink.start_run(stream, first)  # the folder holds another run from the start
            elif known is not None or (first > 0 and not _first_log(chosen, first)):
                # A later event file of the same run, or one that starts mid-way: a resumed
                # session.
                sink.resumes.append(Resume(first, stream))
                sink.new_session(stream)
        if any(kind.yolo for kind in (classify(k) for k in plan.main.values())):
            sink.set_clock(stream, "epoch")  # YOLO logs to TensorBoard once per epoch
        for metric, (steps, values) in chosen.items():
            sink.extend(metric, steps, values, stream)
        if plan.epoch is not None and plan.metrics:
            sink.extend("epoch", *_newest(*arrays[plan.epoch]), stream)  # HF's train/epoch
        for key in plan.other:
            steps, values = arrays[key]
            sink.other_many(key, steps, values, stream)
        return ReadStats(records, skipped, note)
