"""prune=True of deepsz.compress: magnitude pruning without retraining (the
library cannot train the user's network), decided on the selection split."""

from . import _arrays

# Fractions of each weight tensor's entries set to zero, tried in order; the
# first whose selection drop exceeds the pruning's share of the budget ends
# the search (accuracy falls with the fraction, up to noise).
LEVELS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
PRUNE_SHARE = 0.5  # of max_loss; the rest is left to the error bounds


def _pruned(values, fraction):
    np = _arrays._numpy()
    k = int(fraction * values.size)
    out = values.copy()
    if k > 0:
        flat = out.reshape(-1)
        flat[np.argpartition(np.abs(flat), k - 1)[:k]] = 0.0
    return out


def magnitude_prune(plans, job, dense_sel, max_loss, describe, paired, drop_of):
    """Zeroes the smallest weights of every matrix and convolution (rank >= 2)
    at the largest level of LEVELS whose selection drop against the dense
    model stays within PRUNE_SHARE of max_loss. Returns (the pruned model's
    selection correctness, the budget left for the bounds, density)."""
    targets = [p for p in plans if p.values.ndim >= 2 and p.values.size > 0]
    accepted, accepted_flags, accepted_drop = None, dense_sel, 0.0
    job.progress.start("pruning", len(LEVELS))
    for level in LEVELS:
        arrays = {p.name: _pruned(p.values, level) for p in targets}
        flags = job.ev.correct(arrays, "selection")
        drop = drop_of(paired(dense_sel, flags))
        job.progress.advance(f"{level:.0%} zero: {drop:+.2f} points")
        if drop > PRUNE_SHARE * max_loss + 1e-9:
            break
        accepted, accepted_flags, accepted_drop = arrays, flags, drop
    job.progress.finish()
    if accepted is not None:
        for p in targets:
            p.values = accepted[p.name]
            p.entries.clear()
            describe(p)
    total = sum(p.values.size for p in plans)
    kept = sum(int(_arrays._numpy().count_nonzero(p.values)) for p in plans)
    return accepted_flags, max(0.0, max_loss - max(0.0, accepted_drop)), kept / total if total else 1.0
