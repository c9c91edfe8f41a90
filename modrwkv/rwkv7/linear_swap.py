"""Swapping a model's nn.Linear layers for other implementations (packed, fp16, int8), in place."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn


def replace_linears(model: nn.Module, make: Callable[[str, nn.Linear], nn.Module | None]) -> nn.Module:
    """Replace every nn.Linear inside `model` with make(its qualified name, it); where make returns None, keep it."""
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and (new := make(f"{parent_name}.{name}".lstrip("."), child)) is not None:
                setattr(parent, name, new)
    return model
