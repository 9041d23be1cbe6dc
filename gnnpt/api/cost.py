"""How long a model takes to score molecules on this server, so that a request that cannot finish within the timeout
is refused up front (413 with the reason) instead of running to it.

The cost of one molecule grows with its heavy atoms, and differently for each model: a small GNN is almost linear,
MiniMol's Laplacian eigenvectors grow faster than the atoms, and the models differ about 50x. So each model is timed
when it loads, on one probe molecule (a batch's fixed cost) and on probe molecules of three sizes up to the atom
limit, and a molecule's cost is interpolated between those sizes. The server's speed changes (other processes,
other requests): the batches scored rescale the estimate by how long they actually took against what the probes
predicted.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gnnpt.featurization.atom_count import heavy_atoms

PROBE_SIZES = (1, 24)  # heavy atoms of the small probes; the largest probe has the service's atom limit
PROBE_MOLECULES = 16  # molecules scored per probe size
PROBE_MAX_ATOMS = 500  # the largest probe: past it a molecule's cost is extrapolated (a 20,000-atom probe chain
# overflowed RDKit's recursion on the loading thread's stack and killed the server)
SMOOTHING = 0.3  # weight of the latest batch in the speed factor
MIN_BATCH_S = 0.05  # the factor moves once the batches counted should have taken this long (less is mostly noise)


def probe_smiles(atoms: int) -> str:
    """A molecule of ``atoms`` heavy atoms shaped like a drug: benzene rings joined by CH2 groups."""
    rings, rest = divmod(atoms, 7)
    return "c1ccccc1C" * rings + "C" * rest


def molecule_atoms(smiles: Sequence[str], limit: int, max_length: int | None = None) -> list[int]:
    """The heavy atoms of each SMILES as scoring will treat it: counting stops past the atom ``limit``, and a SMILES
    longer than ``max_length`` counts as over it (neither is scored: each is that row's error). Counted once per
    request (the text scan is most of the gate's own cost) and read by the estimate, the request's atom limit and
    the batcher's pieces."""
    over = limit + 1
    return [over if max_length is not None and len(s) > max_length else heavy_atoms(s, stop=limit) for s in smiles]


class ScoringCost:
    """Seconds a model takes to score molecules: a fixed cost per batch plus a cost per molecule by its heavy atoms
    (interpolated between measured sizes), times ``factor``, how much slower than at load recent batches ran."""

    def __init__(self, sizes: Sequence[int], seconds: Sequence[float], batch_s: float = 0.0, factor: float = 1.0,
                 piece_atoms: int = 1024, limit: int | None = None):  # fmt: skip
        self.sizes, self.seconds, self.batch_s, self.factor = list(sizes), list(seconds), batch_s, factor
        self.limit = limit or self.sizes[-1]  # the atom limit: molecules past it are refused from their text
        self.piece_atoms = piece_atoms  # the batcher's share of a request per batch: each piece pays batch_s
        self._predicted = self._actual = 0.0  # batches observed since the factor last moved

    @classmethod
    def measure(cls, score: Callable[[list[str]], Any], max_atoms: int, piece_atoms: int = 1024) -> ScoringCost:
        """Time ``score`` (a list of SMILES -> scores) on one small probe molecule and on :data:`PROBE_MOLECULES`
        of each size: the difference between one and many small ones separates a batch's fixed cost (the domain
        lookup, the model call) from a molecule's, which 8 molecules alone would overstate ten times."""
        sizes = sorted({*(s for s in PROBE_SIZES if s < max_atoms), min(max_atoms, PROBE_MAX_ATOMS)})
        score([probe_smiles(sizes[0])])  # first-call costs (threads, caches) are not a molecule's

        def timed(molecules: list[str]) -> float:
            start = time.perf_counter()
            score(molecules)
            return time.perf_counter() - start

        single = timed([probe_smiles(sizes[0])])
        many = [timed([probe_smiles(size)] * PROBE_MOLECULES) for size in sizes]
        first = max((many[0] - single) / (PROBE_MOLECULES - 1), 0.0)
        batch_s = max(single - first, 0.0)
        seconds = [first, *(max((t - batch_s) / PROBE_MOLECULES, 0.0) for t in many[1:])]
        return cls(sizes, seconds, batch_s, piece_atoms=piece_atoms, limit=max_atoms)

    def molecule(self, atoms: int) -> float:
        """Seconds for one molecule of ``atoms`` heavy atoms at the load-time speed (none over the atom limit: such
        a molecule is refused from its text, unscored; past the largest probe, extrapolated)."""
        if atoms > self.limit:
            return 0.0
        k = min(max(bisect.bisect_left(self.sizes, atoms), 1), len(self.sizes) - 1)
        (a0, a1), (s0, s1) = self.sizes[k - 1 : k + 1], self.seconds[k - 1 : k + 1]
        return max(s0 + (s1 - s0) * (atoms - a0) / (a1 - a0), 0.0)

    def atoms_within(self, seconds: float, most: int) -> int:
        """Heavy atoms of drug-sized molecules (24 atoms each) this model scores in one batch within ``seconds`` at
        the load-time speed, from 64 to ``most``: the size of a big request's pieces, so that a small request
        arriving meanwhile waits about ``seconds`` behind one (a MiniMol-fed model scores 1,024 atoms in ~150 ms on
        one core, a small GNN in a few)."""
        per_atom = self.molecule(24) / 24
        if per_atom <= 0:
            return most
        return int(min(most, max(64, (seconds - self.batch_s) / per_atom)))

    def _times(self, atoms: Sequence[int]) -> np.ndarray:
        """Seconds at the load-time speed to score the first 1, 2, ... of molecules with ``atoms`` heavy atoms."""
        counts = np.asarray(atoms, np.int64)
        scored = np.where(counts <= self.limit, counts, 0)
        pieces = np.maximum(1, np.ceil(np.cumsum(scored) / self.piece_atoms))
        return pieces * self.batch_s + np.cumsum([self.molecule(a) for a in atoms])

    def _load_time(self, atoms: Sequence[int]) -> float:
        """Seconds at the load-time speed to score molecules of ``atoms`` heavy atoms (one batch at least)."""
        return float(self._times(atoms)[-1]) if len(atoms) else self.batch_s

    def seconds_for(self, atoms: Sequence[int]) -> float:
        """Estimated seconds to score molecules of ``atoms`` heavy atoms (:func:`molecule_atoms`) now."""
        return self._load_time(atoms) * self.factor

    def fitting(self, atoms: Sequence[int], seconds: float) -> int:
        """How many of the first molecules (at least one) the estimate scores within ``seconds`` now: the count a
        refused request is told to send, which must then be accepted (each piece's fixed cost rounds up)."""
        return max(1, int(np.searchsorted(self._times(atoms) * self.factor, seconds, side="right")))

    def observe(self, atoms: Sequence[int], seconds: float) -> None:
        """Count a batch of molecules of ``atoms`` heavy atoms that took ``seconds`` to score; once the batches
        counted should have taken :data:`MIN_BATCH_S` at load-time speed, move the factor towards their real time
        over that (one small batch alone is mostly the scheduler's noise)."""
        self._predicted += self._load_time(atoms)
        self._actual += seconds
        if self._predicted >= MIN_BATCH_S:
            ratio = min(max(self._actual / self._predicted, 0.1), 20.0)
            self.factor = (1 - SMOOTHING) * self.factor + SMOOTHING * ratio
            self._predicted = self._actual = 0.0
