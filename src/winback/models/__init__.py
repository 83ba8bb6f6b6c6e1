"""Model families behind one protocol (fit, predict_proba, save, load)."""

from winback.models.base import Candidate, NotFittedError
from winback.models.bgnbd import BGNBD
from winback.models.lgbm import LightGBMModel
from winback.models.logistic import LogisticModel

REGISTRY: dict[str, type[Candidate]] = {
    "logistic": LogisticModel,
    "lightgbm": LightGBMModel,
    "bgnbd": BGNBD,
}

__all__ = ["BGNBD", "Candidate", "LightGBMModel", "LogisticModel", "NotFittedError", "REGISTRY"]
