"""Lambda's size and layer-count limits, checked before anything is published."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_LAYERS = 5
# Function code plus all its layers, unzipped.
MAX_UNZIPPED_BYTES = 262_144_000
# A zip sent inline with the API call (ZipFile=...).
MAX_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024


class LimitError(Exception):
    """What we are about to deploy would not fit in Lambda."""


@dataclass(frozen=True)
class LayerSize:
    """A layer's name (or ARN) and its unzipped size in bytes."""

    name: str
    unzipped: int
    exact: bool = True


def check_limits(
    function_unzipped: int,
    our_layers: Sequence[LayerSize],
    foreign_layers: Sequence[LayerSize] = (),
    max_layers: int = MAX_LAYERS,
    max_unzipped: int = MAX_UNZIPPED_BYTES,
) -> int:
    """Raise :class:`LimitError` unless the function fits; return the total unzipped bytes."""
    count = len(our_layers) + len(foreign_layers)
    if count > max_layers:
        foreign = ", ".join(layer.name for layer in foreign_layers) or "none"
        raise LimitError(
            f"Lambda allows at most {max_layers} layers per function; this deploy would attach "
            f"{count}: {len(our_layers)} of ours and {len(foreign_layers)} already attached by "
            f"others ({foreign}). Detach a foreign layer or raise the layer zip size."
        )
    total = function_unzipped + sum(layer.unzipped for layer in (*our_layers, *foreign_layers))
    if total >= max_unzipped:
        parts = [f"function {function_unzipped:,}"]
        parts += [f"{layer.name} {layer.unzipped:,}" for layer in (*our_layers, *foreign_layers)]
        raise LimitError(
            f"function plus layers would be {total:,} bytes unzipped; Lambda's limit is "
            f"{max_unzipped:,} ({'; '.join(parts)}). Trim the layer or drop a dependency."
        )
    return total
