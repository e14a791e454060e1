"""deepsz.compress: error bounds per tensor chosen on the user's selection
split, the file accepted only when the certification split certifies it
(docs/PYTHON.md; the rule is the deepsz tool's, docs/PIPELINE.md).

The library never looks inside the network: `evaluate(state_dict, split)`
is the user's own function, returning one correctness flag per example of
the split. Every decision (bounds, knapsack, guarantee loop, the ladder of
candidates and its order) is made on "selection"; "certification" is first
asked for once the ladder is fixed, and it is the statistic of
`discordant_drop_upper_bound` (exact, paired) that accepts a candidate, in
the fixed-sequence procedure of `certify_in_sequence`."""

import dataclasses
import json
import math
import os
import time

from . import _arrays, _deepsz, _state
from ._progress import Progress
from ._prune import magnitude_prune

SPLITS = ("selection", "certification")


@dataclasses.dataclass
class TensorPlan:
    name: str
    values: object  # C-contiguous float32 ndarray (pruned, when prune=True)
    sparse: bool
    lossy: bool
    rms: float
    max_abs: float
    density: float
    entries: dict = dataclasses.field(default_factory=dict)  # bound -> TensorEntry (0.0: lossless)


@dataclasses.dataclass
class CompressResult:
    """What compress wrote and why it may be trusted."""

    path: str
    file_bytes: int
    original_bytes: int
    ratio: float
    bounds: dict              # tensor name -> absolute error bound (0 = lossless)
    selection_drop: float     # points, decoded against the input model, on "selection"
    certification_drop: float  # points against the input (dense) model, on "certification"
    certification_upper_bound: float  # points, at `confidence`
    confidence: float
    max_loss: float
    pruned_density: float     # fraction of float32 weights kept (1.0 without prune)
    evaluations: int
    seconds: float
    statement: str
    certification: dict = dataclasses.field(repr=False, default_factory=dict)
    ladder: list = dataclasses.field(repr=False, default_factory=list)

    def __str__(self):
        return (
            f"{self.path}: {self.original_bytes} -> {self.file_bytes} bytes, ratio {self.ratio:.2f}x; "
            f"certification drop {self.certification_drop:+.3f} points, upper bound "
            f"{self.certification_upper_bound:.3f} <= {self.max_loss} at {self.confidence:.0%}"
        )


class _Evaluator:
    """The user's evaluate on arrays: builds the state dict it expects (the
    original's kinds and devices), checks its answer, pairs it."""

    def __init__(self, evaluate, original):
        self.evaluate = evaluate
        self.original = original
        self.sizes = {}
        self.calls = 0

    def correct(self, arrays, split):
        sd = type(self.original)() if isinstance(self.original, dict) else {}
        for name, value in self.original.items():
            if name in arrays:
                a = arrays[name]
                if _arrays.is_torch_tensor(value):
                    import torch

                    a = torch.from_numpy(a)
                    if value.device.type != "cpu":
                        a = a.to(value.device)
                sd[name] = a
            else:
                sd[name] = value
        self.calls += 1
        got = self.evaluate(sd, split)
        if _arrays.is_torch_tensor(got):
            got = got.detach().cpu().numpy()
        np = _arrays._numpy()
        flags = np.asarray(got)
        if flags.dtype != np.bool_:
            if flags.dtype.kind not in "biu" or not np.isin(flags, (0, 1)).all():
                raise TypeError(f"evaluate(state_dict, {split!r}) must return per-example correctness (bools)")
            flags = flags.astype(bool)
        flags = flags.reshape(-1)
        if flags.size == 0:
            raise _arrays._error(f"evaluate(state_dict, {split!r}) returned no examples")
        if self.sizes.setdefault(split, flags.size) != flags.size:
            raise _arrays._error(
                f"evaluate(state_dict, {split!r}) returned {flags.size} flags, earlier {self.sizes[split]}"
            )
        return flags


def paired(reference, candidate):
    """(correct->wrong, wrong->correct, examples) of two correctness vectors."""
    np = _arrays._numpy()
    c2w = int(np.count_nonzero(reference & ~candidate))
    w2c = int(np.count_nonzero(~reference & candidate))
    return c2w, w2c, int(reference.size)


def drop_of(counts):
    c2w, w2c, n = counts
    return 100.0 * (c2w - w2c) / n if n else 0.0


class _Job:
    def __init__(self, plans, ev, threads, progress):
        self.plans, self.ev, self.threads, self.progress = plans, ev, threads, progress
        self.measured = {}  # choice tuple -> counts on the selection split

    def entry(self, i, bound):
        p = self.plans[i]
        if bound not in p.entries:
            p.entries[bound] = _deepsz.encode_entry(p.name, p.values, bound, "dsz", "auto", p.sparse, self.threads)
        return p.entries[bound]

    def lossless(self, i):
        p = self.plans[i]
        if 0.0 not in p.entries:
            a = _deepsz.encode_entry(p.name, p.values, 0.0, "lossless", "auto", p.sparse, self.threads)
            b = _deepsz.encode_entry(p.name, p.values, 0.0, "dsz", "auto", p.sparse, self.threads)
            p.entries[0.0] = b if b.nbytes < a.nbytes else a
        return p.entries[0.0]

    def arrays(self, bounds):
        """Decoded arrays of the tensors whose bound is not 0 (the others are
        their plan values, exactly)."""
        out = {}
        for i, p in enumerate(self.plans):
            b = bounds.get(i, 0.0)
            out[p.name] = _arrays.entry_array(self.entry(i, b), self.threads) if b > 0.0 else p.values
        return out


def _table(plans, job, ref, budget):
    """The assessment on the selection split (pipeline.cpp, assess): per
    lossy tensor, from the last backwards, the bound search of the tool."""
    images = int(ref.size)
    lossless = [job.lossless(i).nbytes for i in range(len(plans))]
    total = sum(lossless)
    layers = []
    for i, p in enumerate(plans):
        e = job.lossless(i)
        layers.append({
            "name": p.name, "elements": int(p.values.size), "density": p.density,
            "candidates": [{"bound": 0.0, "index_bytes": e.index_bytes, "value_bytes": e.value_bytes,
                            "top1_drop": 0.0, "correct_to_wrong": 0, "wrong_to_correct": 0, "images": images}],
        })
    order = [i for i in reversed(range(len(plans))) if plans[i].lossy and budget > 0.0]
    job.progress.start("assessing", len(order))
    for i in order:
        p = plans[i]
        opts = dict(start_bound=min(p.max_abs, 0.02 * (p.rms if p.rms > 0 else p.max_abs)), budget=budget,
                    max_bound=p.max_abs, narrow_to_free=True, noise_margin=max(budget, 300.0 / max(1, images)))
        if lossless[i] * 100 < total or lossless[i] < 256:
            opts.update(growth=4.0, refinements=1, max_candidates=3)  # at most ~1% of the bytes to gain
        elif p.values.ndim == 4:
            opts.update(refinements=2, max_candidates=7)  # a convolution: fewer, costlier looks
        done, found = [], []
        while (b := _deepsz.propose_next_bound(done, **opts)) is not None:
            counts = paired(ref, job.ev.correct(job.arrays({i: b}), "selection"))
            e = job.entry(i, b)
            done.append((b, drop_of(counts)))
            found.append({"bound": b, "index_bytes": e.index_bytes, "value_bytes": e.value_bytes,
                          "top1_drop": drop_of(counts), "correct_to_wrong": counts[0],
                          "wrong_to_correct": counts[1], "images": counts[2]})
        for c in sorted(found, key=lambda c: c["bound"]):
            if c["bound"] > layers[i]["candidates"][-1]["bound"]:
                layers[i]["candidates"].append(c)
        job.progress.advance(f"{p.name}: {len(found)} bounds")
    return {"format": "deepsz-assessment", "version": 1, "model": "python", "split": "selection",
            "images": images, "reference_top1": 100.0 * float(ref.mean()), "layers": layers}


def _ladder(table, job, ref, budget, loosen):
    """The certification candidates, ordered once from the selection split
    alone by the deepsz tool's own ladder (certification_ladder in
    src/optimize/ladder.cpp): tier 0 first, then from most bytes down."""
    layers = table["layers"]

    def measure(choice):
        key = tuple(int(k) for k in choice)
        if key not in job.measured:
            bounds = {i: layers[i]["candidates"][k]["bound"] for i, k in enumerate(key)}
            job.measured[key] = paired(ref, job.ev.correct(job.arrays(bounds), "selection"))
            job.progress.advance(f"{len(job.measured)} configurations")
        return job.measured[key]

    job.progress.start("optimising", 0)
    guarantee_json, rungs = _deepsz.certification_ladder(json.dumps(table), budget, 0.95, loosen, 32, measure,
                                                         [p.rms for p in job.plans])
    rungs.sort(key=lambda r: (r["tier"], -r["bytes"], drop_of(r["selection"])))
    return rungs, json.loads(guarantee_json)


def _plans(sd):
    np = _arrays._numpy()
    plans, extras = [], {}
    for name, value in sd.items():
        if not _state.is_float32(value):
            extras[name] = _state.encode_extra(name, value)
            continue
        a = np.array(_arrays.as_float32(value, f"state dict entry '{name}'"), copy=True)
        plans.append(TensorPlan(name, a, False, False, 0.0, 0.0, 1.0))
    for p in plans:
        _describe(p)
    return plans, extras


def _describe(p):
    np = _arrays._numpy()
    finite = p.values[np.isfinite(p.values)]
    nonzero = finite[finite != 0]
    p.density = float(np.count_nonzero(p.values)) / p.values.size if p.values.size else 1.0
    p.max_abs = float(np.abs(nonzero).max()) if nonzero.size else 0.0
    p.rms = float(np.sqrt(np.mean(np.square(nonzero, dtype=np.float64)))) if nonzero.size else 0.0
    # Pruned zeros must stay exactly zero: a sparse tensor codes its nonzeros.
    p.sparse = p.values.size > 0 and p.density <= 0.5
    p.lossy = p.values.size > 0 and p.max_abs > 0.0 and nonzero.size > 0


def compress(model_or_state_dict, evaluate, max_loss=0.3, out="model.dsz", *, prune=False, confidence=0.9,
             max_looks=32, loosen=4, threads=None, progress=None):
    """Compresses a model's float32 tensors with error bounds chosen so that
    its top-1 accuracy drops by at most `max_loss` points, certified.

    evaluate(state_dict, split) -> one correctness flag per example, for
    split "selection" (every choice is made on it) and "certification"
    (looked at only to accept or refuse finished candidates, at
    `confidence`). The file written at `out` is the passed candidate of
    fewest bytes; when none passes nothing is written and deepsz.Error
    (code "not_certified") is raised. prune=True first zeroes the smallest
    weights of each weight matrix and convolution (magnitude pruning without
    retraining) as far as half the budget allows on the selection split.
    Progress: a bar on a terminal (progress=None), none (False) or a
    callable progress(done, total, message). Returns a CompressResult."""
    t0 = time.monotonic()
    max_loss = _arrays.check_bound(max_loss, "max_loss")
    if not 0.0 < confidence < 1.0:
        raise _arrays._error(f"confidence must be in (0, 1), got {confidence!r}")
    if int(max_looks) < 1:
        raise _arrays._error("max_looks must be >= 1")
    if not callable(evaluate):
        raise TypeError("evaluate must be callable: evaluate(state_dict, split) -> per-example correctness")
    out = os.fspath(out)
    if os.path.isdir(out):
        raise _arrays._error(f"output '{out}' is a directory")
    threads = _arrays.resolve_threads(threads)
    bar = Progress(progress)
    try:
        sd = _state.state_dict_of(model_or_state_dict)
        plans, extras = _plans(sd)
        if not plans:
            raise _arrays._error("the state dict holds no float32 tensor to compress")
        ev = _Evaluator(evaluate, sd)
        job = _Job(plans, ev, threads, bar)
        dense_sel = ev.correct({}, "selection")
        ref, budget, density = dense_sel, max_loss, 1.0
        if prune:
            ref, budget, density = magnitude_prune(plans, job, dense_sel, max_loss, _describe, paired, drop_of)
        table = _table(plans, job, ref, budget)
        ladder, guarantee = _ladder(table, job, ref, budget, int(loosen))
        # Only now, with the ladder fixed, is the certification split asked for.
        dense_cert = ev.correct({}, "certification")
        bar.start("certifying", min(len(ladder), int(max_looks)))
        layers = table["layers"]

        def bounds_of(rung):
            return {i: layers[i]["candidates"][k]["bound"] for i, k in enumerate(rung["choice"])}

        def measure_cert(k):
            counts = paired(dense_cert, ev.correct(job.arrays(bounds_of(ladder[k])), "certification"))
            ladder[k]["certification"] = counts
            bar.advance(f"{ladder[k]['origin']}: {drop_of(counts):+.2f} points")
            return counts

        cert = json.loads(_deepsz.certify_in_sequence(len(ladder), max_loss, confidence, int(max_looks),
                                                      measure_cert, [r["bytes"] for r in ladder]))
        bar.finish()
        if not cert["certified"]:
            raise _arrays._error("not certified: " + cert["statement"], "not_certified")
        chosen = ladder[cert["chosen"]]
        look = next(l for l in cert["looks"] if l["candidate"] == cert["chosen"])
        bounds = bounds_of(chosen)
        entries = [job.entry(i, bounds[i]) if bounds[i] > 0.0 else job.lossless(i) for i in range(len(plans))]
        summary = {"max_loss": max_loss, "confidence": confidence, "origin": chosen["origin"],
                   "selection_drop": drop_of(chosen["selection"]), "certification_drop": look["drop_pp"],
                   "certification_upper_bound": look["upper_bound_pp"], "pruned_density": density,
                   "bounds": {plans[i].name: b for i, b in bounds.items()}}
        meta = _state.metadata(sd.keys(), extras, [("deepsz.python.compress", json.dumps(summary)),
                                                   ("deepsz.python.certification", json.dumps(cert))])
        _deepsz.write_file(out, entries, meta)
    finally:
        bar.finish()
    original = sum(p.values.size * 4 for p in plans) + sum(len(r["data"]) * 3 // 4 - r["data"].count("=") for r in extras.values())
    size = os.path.getsize(out)
    return CompressResult(
        path=out, file_bytes=size, original_bytes=original, ratio=original / size if size else math.inf,
        bounds=summary["bounds"], selection_drop=summary["selection_drop"],
        certification_drop=look["drop_pp"], certification_upper_bound=look["upper_bound_pp"],
        confidence=confidence, max_loss=max_loss, pruned_density=density, evaluations=ev.calls,
        seconds=time.monotonic() - t0, statement=cert["statement"], certification=cert,
        ladder=[{k: r[k] for k in ("origin", "tier", "bytes", "selection")} | {"certification": r.get("certification")}
                for r in ladder],
    )
