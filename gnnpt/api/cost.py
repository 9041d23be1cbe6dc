"""How long a model takes to score molecules on this server, so that a request that cannot finish within the timeout
is refused up front (413 with the reason) instead of running to it.

The cost of one molecule grows with its heavy atoms, and differently for each model: a small GNN is almost linear,
MiniMol's Laplacian eigenvectors grow faster than the atoms, and the models differ about 50x. So each model is timed
when it loads, on probe molecules of three sizes up to the atom limit, and a molecule's cost is interpolated between
those sizes. The server's speed changes (other processes, other requests): every batch scored rescales the estimate
by how long it actually took against what the probes predicted.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from typing import Any

from gnnpt.featurization.atom_count import heavy_atoms

PROBE_SIZES = (1, 24)  # heavy atoms of the small probes; the largest probe has the service's atom limit
PROBE_MOLECULES = 8  # molecules scored per probe size
SMOOTHING = 0.3  # weight of the latest batch in the speed factor
MIN_BATCH_S = 0.05  # batches predicted shorter than this are too noisy (fixed costs, preemption) to rescale by


def probe_smiles(atoms: int) -> str:
    """A molecule of ``atoms`` heavy atoms shaped like a drug: benzene rings joined by CH2 groups."""
    rings, rest = divmod(atoms, 7)
    return "c1ccccc1C" * rings + "C" * rest


class ScoringCost:
    """Seconds a model takes per molecule, by heavy atoms (interpolated between measured sizes), times ``factor``:
    how much slower than at load the recent batches ran."""

    def __init__(self, sizes: Sequence[int], seconds: Sequence[float], factor: float = 1.0):
        self.sizes, self.seconds, self.factor = list(sizes), list(seconds), factor

    @classmethod
    def measure(cls, score: Callable[[list[str]], Any], max_atoms: int) -> ScoringCost:
        """Time ``score`` (a list of SMILES -> scores) on :data:`PROBE_MOLECULES` probe molecules of each size."""
        sizes = sorted({*(s for s in PROBE_SIZES if s < max_atoms), max_atoms})
        score([probe_smiles(sizes[0])])  # first-call costs (threads, caches) are not a molecule's
        seconds = []
        for size in sizes:
            start = time.perf_counter()
            score([probe_smiles(size)] * PROBE_MOLECULES)
            seconds.append((time.perf_counter() - start) / PROBE_MOLECULES)
        return cls(sizes, seconds)

    def molecule(self, atoms: int) -> float:
        """Seconds for one molecule of ``atoms`` heavy atoms at the load-time speed (none over the atom limit: such
        a molecule is refused from its text, unscored)."""
        if atoms > self.sizes[-1]:
            return 0.0
        k = min(max(bisect.bisect_left(self.sizes, atoms), 1), len(self.sizes) - 1)
        (a0, a1), (s0, s1) = self.sizes[k - 1 : k + 1], self.seconds[k - 1 : k + 1]
        return max(s0 + (s1 - s0) * (atoms - a0) / (a1 - a0), 0.0)

    def seconds_for(self, smiles: Sequence[str], max_length: int | None = None) -> float:
        """Estimated seconds to score ``smiles`` now (a SMILES longer than ``max_length`` is not scored)."""
        total = sum(self.molecule(heavy_atoms(s, stop=self.sizes[-1])) for s in smiles
                    if max_length is None or len(s) <= max_length)  # fmt: skip
        return total * self.factor

    def observe(self, smiles: Sequence[str], seconds: float) -> None:
        """Rescale by a batch that took ``seconds`` to score ``smiles``: only a batch whose molecules should take
        :data:`MIN_BATCH_S` or more, since a small batch's time is mostly fixed costs and the scheduler's noise."""
        predicted = self.seconds_for(smiles) / self.factor
        if predicted >= MIN_BATCH_S:
            ratio = min(max(seconds / predicted, 0.1), 20.0)
            self.factor = (1 - SMOOTHING) * self.factor + SMOOTHING * ratio
