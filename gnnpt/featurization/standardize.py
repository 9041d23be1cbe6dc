"""Optional molecule standardization with RDKit's rdMolStandardize."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize


@dataclass(frozen=True)
class Standardization:
    """Which standardization steps to apply, in this order.

    ``cleanup`` normalizes functional groups and reionizes; ``largest_fragment`` keeps the largest
    organic fragment (drops salts and solvents); ``uncharge`` neutralizes where possible;
    ``canonical_tautomer`` picks RDKit's canonical tautomer (off by default: slow, and it can change
    the chemistry a model was trained on).
    """

    cleanup: bool = True
    largest_fragment: bool = True
    uncharge: bool = True
    canonical_tautomer: bool = False

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


class Standardizer:
    """Applies a :class:`Standardization` to RDKit molecules (reusing the RDKit helper objects)."""

    def __init__(self, options: Standardization):
        self.options = options
        self._chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
        self._uncharger = rdMolStandardize.Uncharger(canonicalOrder=True)
        self._tautomers = rdMolStandardize.TautomerEnumerator() if options.canonical_tautomer else None

    def __call__(self, mol: Chem.Mol) -> Chem.Mol:
        """The standardized molecule (a new object); raises on RDKit failures."""
        o = self.options
        if o.cleanup:
            mol = rdMolStandardize.Cleanup(mol)
        if o.largest_fragment:
            mol = self._chooser.choose(mol)
        if o.uncharge:
            mol = self._uncharger.uncharge(mol)
        if self._tautomers is not None:
            mol = self._tautomers.Canonicalize(mol)
        return mol
