"""Benchmark: one GRU training step, ours (idl_helpers.models.recurrent.GRU) vs torch.nn.GRU.

A step = forward over a (batch 128, 100 steps, input 50) sequence, hidden 64, a Linear(64, 2)
head on the last state, cross-entropy, backward and an Adam update. Both models see the same
data on the same device; the median of ``--steps`` timed steps (after warm-up) is reported.

    python benchmarks/gru_step.py results.json [--device cpu|cuda] [--steps 100] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from idl_helpers.models.recurrent import GRU


class OursHead(nn.Module):
    def __init__(self, d, h, reset):
        super().__init__()
        self.rnn = GRU(d, h, "tanh", reset=reset)
        self.out = nn.Linear(h, 2)

    def forward(self, x):
        return self.out(self.rnn(x)[1])


class TorchHead(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.rnn = nn.GRU(d, h, batch_first=True)
        self.out = nn.Linear(h, 2)

    def forward(self, x):
        return self.out(self.rnn(x)[1][0])


def time_steps(model, x, y, steps, warmup, device):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="where to write the results JSON")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--input", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.batch, a.seq, a.input, device=a.device)
    y = torch.randint(0, 2, (a.batch,), device=a.device)
    models = {"torch.nn.GRU": TorchHead(a.input, a.hidden),
              "ours reset=after": OursHead(a.input, a.hidden, "after"),
              "ours reset=before": OursHead(a.input, a.hidden, "before")}
    res = {}
    # interleave the models in rounds so that load from other processes hits all of them alike
    rounds = 4
    per = max(1, a.steps // rounds)
    samples = {k: [] for k in models}
    for m in models.values():
        m.to(a.device)
    for _ in range(rounds):
        for name, m in models.items():
            samples[name] += time_steps(m, x, y, per, a.warmup, a.device)
    for name, ts in samples.items():
        res[name] = {"median_ms": 1e3 * statistics.median(ts), "mean_ms": 1e3 * statistics.fmean(ts),
                     "min_ms": 1e3 * min(ts), "steps": len(ts)}
    ref = res["torch.nn.GRU"]["median_ms"]
    for name in res:
        res[name]["ratio_vs_nn_gru"] = res[name]["median_ms"] / ref
    payload = {"device": a.device, "device_name": (torch.cuda.get_device_name() if a.device == "cuda"
                                                   else platform.processor() or platform.machine()),
               "threads": torch.get_num_threads(), "torch": torch.__version__,
               "shape": {"batch": a.batch, "seq": a.seq, "input": a.input, "hidden": a.hidden},
               "results": res}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(payload, indent=1) + "\n")
    for name, r in res.items():
        print(f"{name:20s} median {r['median_ms']:7.2f} ms/step   ratio {r['ratio_vs_nn_gru']:.2f}")
    return payload


if __name__ == "__main__":
    main()
