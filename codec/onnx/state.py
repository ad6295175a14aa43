"""Streaming state as named tensors: what lets a step graph take its state in and give it back out.

Every `codec.nn.streaming.StreamingModule` under a module holds a dataclass of tensors as its state.
`state_layout` walks them (module order, then field order) and names each field
`<module path>.<field>`; `StatefulStep` wraps a module's streaming step as
`forward(x, *state) -> (*outputs, *next_state)`, the form a traced ONNX graph needs. A new part with
streaming state is covered without edits, provided its state fields are tensors that start at zero.
Fields that are empty for every batch size (e.g. the left context of a kernel-1 conv) carry nothing
and are left out of the graph's inputs and outputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from codec.nn.streaming import StreamingModule, set_streaming

BATCH = "batch"  # the batch axis in a described shape


@dataclass(frozen=True)
class StateTensor:
    """One state field of a step graph: `shape` has None on the batch axis (absent for batch-free fields)."""

    module: str
    field: str
    shape: tuple[int | None, ...]
    dtype: torch.dtype

    @property
    def name(self) -> str:
        """`<module path>.<field>`: the graph's input is `state.<name>`, its output `next.<name>`."""
        return f"{self.module}.{self.field}" if self.module else self.field

    @property
    def batch_axis(self) -> int | None:
        """The axis that has the batch size, or None."""
        return self.shape.index(None) if None in self.shape else None

    def zeros(self, batch_size: int) -> torch.Tensor:
        """The field's initial value for `batch_size` streams."""
        return torch.zeros([batch_size if d is None else d for d in self.shape], dtype=self.dtype)

    def describe(self) -> dict:
        """JSON for the export manifest: name, shape ("batch" on the batch axis), dtype; it starts at zeros."""
        return {
            "name": self.name,
            "shape": [BATCH if d is None else d for d in self.shape],
            "dtype": str(self.dtype).removeprefix("torch."),
        }


def _named_streaming_modules(root: nn.Module) -> list[tuple[str, StreamingModule]]:
    return [(name, m) for name, m in root.named_modules() if isinstance(m, StreamingModule)]


def _fields(state: object, where: str) -> dict[str, torch.Tensor]:
    """The tensor fields of a state dataclass; ValueError for anything a graph cannot carry."""
    if not dataclasses.is_dataclass(state):
        raise ValueError(f"{where}: streaming state {type(state).__name__} is not a dataclass of tensors")
    out = {}
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{where}: state field {f.name!r} is {type(value).__name__}, not a tensor; "
                "ONNX step graphs carry tensor state only"
            )
        out[f.name] = value
    return out


def _all_fields(root: nn.Module) -> list[StateTensor]:
    """Every state field of every StreamingModule under `root` (empty ones included), checked."""
    layout = []
    for path, module in _named_streaming_modules(root):
        where = path or type(module).__name__
        one, two = _fields(module.init_state(1), where), _fields(module.init_state(2), where)
        for field, value in one.items():
            if value.numel() and bool(value.any()):
                raise ValueError(f"{where}: state field {field!r} does not start at zero")
            shape = tuple(None if a != b else a for a, b in zip(value.shape, two[field].shape))
            layout.append(StateTensor(path, field, shape, value.dtype))
    return layout


def state_layout(root: nn.Module) -> list[StateTensor]:
    """The non-empty state fields of every StreamingModule under `root`, in a fixed order.

    The batch axis is where the initial states for 1 and 2 streams differ. ValueError when a field
    is not a tensor or does not start at zero.
    """
    return [s for s in _all_fields(root) if 0 not in s.shape]


class StatefulStep(nn.Module):
    """`graph.<step>(x)` in streaming mode with its state as explicit tensors (see the module docstring)."""

    def __init__(self, graph: nn.Module, step: str) -> None:
        super().__init__()
        self.graph, self.step = graph, step
        self.all_fields = _all_fields(graph)
        self.layout = state_layout(graph)

    def forward(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = x.shape[0]  # traced as a size, so the graph keeps a dynamic batch
        given = {s.name: t for s, t in zip(self.layout, state, strict=True)}
        values: dict[str, dict[str, torch.Tensor]] = {}
        for s in self.all_fields:  # empty fields are rebuilt with this call's batch size
            value = (
                given[s.name]
                if s.name in given
                else torch.zeros([batch if d is None else d for d in s.shape], dtype=s.dtype)
            )
            values.setdefault(s.module, {})[s.field] = value
        modules = dict(_named_streaming_modules(self.graph))
        for path, module in modules.items():
            module.streaming_state = dataclasses.replace(module.init_state(1), **values[path])
        try:
            out = getattr(self.graph, self.step)(x)
            outputs = out if isinstance(out, tuple) else (out,)
            return (*outputs, *(getattr(modules[s.module].streaming_state, s.field) for s in self.layout))
        finally:
            set_streaming(self.graph, None)

    def initial_state(self, batch_size: int) -> list[torch.Tensor]:
        """The state tensors at the start of `batch_size` streams, in input order."""
        return [s.zeros(batch_size) for s in self.layout]


def state_names(layout: Sequence[StateTensor]) -> tuple[list[str], list[str]]:
    """Graph input and output names of the state fields: `state.<name>` and `next.<name>`."""
    return [f"state.{s.name}" for s in layout], [f"next.{s.name}" for s in layout]
