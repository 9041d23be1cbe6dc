"""Heavy atoms of a SMILES counted from its text, before any parse: the one count behind the atom limits of
featurization (a molecule over ``max_atoms`` is refused unread) and the service's scheduling and request limit.

Counting the text is linear and allocates nothing, while RDKit's parse of a 10 MB SMILES takes minutes and
gigabytes. For a valid SMILES the count is exact: every letter outside brackets is an organic-subset atom (``Cl`` and
``Br`` are one), every bracket is one atom, and hydrogen brackets (``[H]``, ``[2H]``, ``[H+]``) are not heavy; only
the SMILES itself counts, not a CXSMILES extension or a name after a space.
"""

from __future__ import annotations

import re

# a hydrogen bracket (group 1, not heavy) or a heavy atom (group 2): a bracket, Br/Cl, one letter, or a dummy atom
_ATOM = re.compile(r"(\[\d*H(?![a-z])[^\]]*\])|(\[[^\]]*\]|Br|Cl|[BCNOSPFI*]|[bcnosp])")
_ANY_ATOM = re.compile(r"\[\d*H(?![a-z])[^\]]*\]|\[[^\]]*\]|Br|Cl|[BCNOSPFI*]|[bcnosp]")  # _ATOM, no groups
_HYDROGEN = re.compile(r"\[\d*H(?![a-z])[^\]]*\]")
_SPACE = re.compile(r"\s")


def heavy_atoms(smiles: str, stop: int | None = None) -> int:
    """The heavy atoms of ``smiles``, counted from its text; with ``stop``, counting ends at ``stop + 1`` (enough to
    know a molecule is over a limit of ``stop``, at a cost that does not grow with the text)."""
    space = _SPACE.search(smiles)
    end = space.start() if space else len(smiles)
    if stop is None or end <= stop:  # no more atoms than characters: count all, in C (~4x the loop below)
        text = smiles[:end]
        atoms = len(_ANY_ATOM.findall(text))
        return max(atoms - len(_HYDROGEN.findall(text)), 0) if "[" in text else atoms
    count = 0
    for m in _ATOM.finditer(smiles, 0, end):
        if m.lastindex == 2:
            count += 1
            if count > stop:
                break
    return count
