"""Model families behind one protocol (fit, predict_proba, save, load)."""

from winback.models.base import Candidate, NotFittedError
from winback.models.bgnbd import BGNBD
from winback.models.lgbm import LightGBMModel
from winback.models.logistic import LogisticModel
from winback.models.sequence import GRUModel, LSTMModel

REGISTRY: dict[str, type[Candidate]] = {
    "logistic": LogisticModel,
    "lightgbm": LightGBMModel,
    "bgnbd": BGNBD,
    "lstm": LSTMModel,
    "gru": GRUModel,
}

__all__ = ["BGNBD", "Candidate", "LightGBMModel", "LogisticModel", "NotFittedError", "REGISTRY"]
