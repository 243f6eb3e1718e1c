"""Choosing the torch device a notebook runs on."""

from __future__ import annotations

VALID = ("auto", "cpu", "cuda")


def resolve(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device not in VALID and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}; use one of {', '.join(VALID)} or cuda:N")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but torch sees no CUDA GPU")
    return device


def describe(device: str, threads: int | None = None) -> str:
    """A human-readable device name for results, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or
    ``cpu (AMD EPYC, 1 thread)`` (``threads``: default, this process's torch threads)."""
    import torch

    from idl_helpers.core.numerics import cpu_model

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    n = threads or torch.get_num_threads()
    return f"cpu ({cpu_model()}, {n} thread{'s' if n != 1 else ''})"
