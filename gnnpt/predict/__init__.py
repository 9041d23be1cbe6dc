"""Predicting in notebooks: scores with ensemble spread, applicability domain, embeddings, pictures, attributions.

import gnnpt
model = gnnpt.load()                      # the shipped Tox21 model, as a Predictor
model.predict(["CCO", "c1ccccc1O"])       # scores, ensemble spread, applicability domain, errors
"""

from gnnpt.predict.attribution import Explanation, atom_attributions, draw_attributions, explain
from gnnpt.predict.display import MoleculeGrid
from gnnpt.predict.predictor import Predictor

__all__ = ["Explanation", "MoleculeGrid", "Predictor", "atom_attributions", "draw_attributions", "explain"]
