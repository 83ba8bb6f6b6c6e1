"""Seed 000's model: a recurrent network over a customer's monthly behaviour, with a dense head
that also reads the stable (whole-history) features.

The monthly `seq_m{k}_*` columns are reshaped to (months, features), oldest month first, and
read by an LSTM or a GRU; its last hidden state joins the standardised stable features in a
dense layer with dropout. Inputs get a signed log1p (counts and money are heavy-tailed) and are
standardised on the training rows. Optuna tunes hidden size, dense units, dropout and learning
rate on the early-stopping customers, pruning trials by epoch; each fit stops early and rolls
back to its best epoch. Weights are saved as safetensors with a JSON config: no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from winback.features.monthly import sequence_columns
from winback.models.base import Candidate, NotFittedError
from winback.models.logistic import bounded, extrapolation_bounds, signed_log
from winback.models.torch_support import adam, require_torch


def _torch():
    return require_torch("The lstm and gru candidates")


def _network(cell: str, n_seq: int, n_stable: int, hidden: int, units: int, dropout: float):
    torch = _torch()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            rnn = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
            self.rnn = rnn(n_seq, hidden, batch_first=True)
            self.head = torch.nn.Sequential(
                torch.nn.Linear(hidden + n_stable, units), torch.nn.ReLU(),
                torch.nn.Dropout(dropout), torch.nn.Linear(units, 1))

        def forward(self, seq, stable):
            _, state = self.rnn(seq)
            last = (state[0] if isinstance(state, tuple) else state)[-1]
            return self.head(torch.cat([last, stable], dim=1)).squeeze(1)

    return Net()


class SequenceModel(Candidate):
    """LSTM (`cell='lstm'`) or GRU over monthly features plus stable features."""

    name = "lstm"
    cell = "lstm"

    def __init__(self, seed: int = 0, trials: int = 6, max_epochs: int = 40, patience: int = 5,
                 batch_size: int = 512, params: dict[str, Any] | None = None):
        self.seed, self.trials, self.max_epochs = seed, trials, max_epochs
        self.patience, self.batch_size = patience, batch_size
        self.params = params

    # ---- data ----
    def _layout(self, columns: list[str]) -> None:
        months, names = sequence_columns(columns)
        if not months:
            raise ValueError("The sequence candidates need monthly features: set "
                             "features.sequence_months (12 is the default for lstm / gru).")
        self.months_, self.month_names_ = months, names
        flat = {c for m in months for c in m}
        self.stable_ = [c for c in columns if c not in flat]
        position = {c: i for i, c in enumerate(columns)}
        # integer positions, month-major, so scoring reads one numpy array (no pandas per month)
        self.seq_index_ = np.array([position[c] for m in months for c in m])
        self.stable_index_ = np.array([position[c] for c in self.stable_], dtype=int)

    def _fit_scaling(self, X: pd.DataFrame) -> None:
        seq = signed_log(np.stack([X[m].to_numpy(dtype=float) for m in self.months_], axis=1))
        self.seq_mean_ = np.nanmean(seq, axis=(0, 1))
        self.seq_scale_ = np.where(np.nanstd(seq, axis=(0, 1)) > 0, np.nanstd(seq, axis=(0, 1)), 1.0)
        st = signed_log(X[self.stable_].to_numpy(dtype=float))
        self.stable_median_ = np.nan_to_num(np.nanmedian(st, axis=0))
        st = np.where(np.isnan(st), self.stable_median_, st)
        self.stable_mean_ = st.mean(axis=0)
        sd = st.std(axis=0)
        self.stable_scale_ = np.where(sd > 0, sd, 1.0)
        # held near the training extremes when scoring, as the logistic regression's features
        # are (no training row moves)
        self.stable_lower_, self.stable_upper_ = extrapolation_bounds((st - self.stable_mean_) / self.stable_scale_)
        self.seq_lower_, self.seq_upper_ = extrapolation_bounds(
            np.nan_to_num((seq - self.seq_mean_) / self.seq_scale_), axis=(0, 1))

    def _tensors(self, X: pd.DataFrame):
        torch = _torch()
        A = (X if list(X.columns) == self.columns_ else X[self.columns_]).to_numpy(dtype=float)
        seq = signed_log(A[:, self.seq_index_].reshape(len(A), len(self.months_), -1))
        seq = np.nan_to_num((seq - self.seq_mean_) / self.seq_scale_)
        st = signed_log(A[:, self.stable_index_])
        st = (np.where(np.isnan(st), self.stable_median_, st) - self.stable_mean_) / self.stable_scale_
        seq = bounded(seq, getattr(self, "seq_lower_", None), getattr(self, "seq_upper_", None))
        st = bounded(st, getattr(self, "stable_lower_", None), getattr(self, "stable_upper_", None))
        return (torch.from_numpy(seq.astype(np.float32)), torch.from_numpy(st.astype(np.float32)))

    # ---- training ----
    def _train(self, params: dict[str, Any], X, y, epochs: int, valid=None, report=None):
        from sklearn.metrics import roc_auc_score

        torch = _torch()
        torch.manual_seed(self.seed)
        seq, st = X
        net = _network(self.cell, seq.shape[2], st.shape[1], params["hidden"], params["units"],
                       params["dropout"])
        opt = adam(net.parameters(), lr=params["learning_rate"], weight_decay=1e-5)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
        gen = torch.Generator().manual_seed(self.seed)
        best, best_state, best_epoch, since = -np.inf, None, epochs, 0
        for epoch in range(epochs):
            net.train()
            for idx in torch.randperm(len(yt), generator=gen).split(self.batch_size):
                opt.zero_grad()
                loss_fn(net(seq[idx], st[idx]), yt[idx]).backward()
                opt.step()
            if valid is None:
                continue
            net.eval()
            with torch.no_grad():
                score = float(roc_auc_score(valid[2], net(valid[0], valid[1]).numpy()))
            if report is not None:
                report(epoch + 1, score)
            if score > best + 1e-5:
                best, since, best_epoch = score, 0, epoch + 1
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                since += 1
                if since >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return net, best, best_epoch

    def fit(self, X, y, X_valid=None, y_valid=None) -> "SequenceModel":
        if X_valid is None:
            raise ValueError("The sequence candidates need early-stopping rows (X_valid).")
        self.columns_ = list(X.columns)
        self._layout(self.columns_)
        self._fit_scaling(X)
        train, (vs, vt) = self._tensors(X), self._tensors(X_valid[self.columns_])
        valid = (vs, vt, np.asarray(y_valid))
        self.fit_rows_ = len(X)
        if self.params is None:
            self.params_ = self._tune(train, y, valid)
        else:
            self.params_ = dict(self.params)
        self.net_, self.valid_auc_, self.best_epoch_ = self._train(self.params_, train, y,
                                                                   self.max_epochs, valid)
        return self

    def _tune(self, train, y, valid) -> dict[str, Any]:
        import optuna

        # a failed trial is raised (no exception is caught), so Optuna's own warning of it, with
        # its traceback, only repeated it, and printed one on every Ctrl-C
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=self.seed),
                                    pruner=optuna.pruners.MedianPruner(n_warmup_steps=3))
        study.enqueue_trial({"hidden": 32, "units": 32, "dropout": 0.2, "learning_rate": 3e-3})

        def objective(trial) -> float:
            params = {"hidden": trial.suggest_categorical("hidden", [16, 32, 64]),
                      "units": trial.suggest_categorical("units", [16, 32, 64]),
                      "dropout": trial.suggest_float("dropout", 0.0, 0.5),
                      "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True)}

            def report(step: int, value: float) -> None:
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()

            return self._train(params, train, y, self.max_epochs, valid, report)[1]

        study.optimize(objective, n_trials=self.trials)
        return dict(study.best_params)

    def refit(self, X, y) -> "SequenceModel":
        """Same parameters and scaling, on all rows, for the epochs early stopping chose
        (scaled by the extra rows), as LightGBM keeps its rounds."""
        if not hasattr(self, "net_"):
            raise NotFittedError("refit() needs a first fit() that chose the epochs.")
        epochs = max(1, round(self.best_epoch_ * len(X) / max(self.fit_rows_, 1)))
        self.net_, _, _ = self._train(self.params_, self._tensors(X[self.columns_]), y,
                                      min(epochs, 2 * self.max_epochs))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "net_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first.")
        torch = _torch()
        seq, st = self._tensors(X)
        with torch.inference_mode():
            p = torch.sigmoid(self.net_(seq, st)).numpy().astype(float)
        return np.column_stack([1 - p, p])

    def parameter_count(self) -> int:
        return int(sum(p.numel() for p in self.net_.parameters()))

    # ---- storage ----
    def save(self, directory: Path) -> dict:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.net_.state_dict().items()},
                  str(directory / f"{self.name}.safetensors"))
        state = {"cell": self.cell, "params": self.params_, "columns": self.columns_,
                 "seed": self.seed, "best_epoch": self.best_epoch_,
                 **{k: getattr(self, f"{k}_").tolist() for k in (
                     "seq_mean", "seq_scale", "stable_median", "stable_mean", "stable_scale",
                     "seq_lower", "seq_upper", "stable_lower", "stable_upper")}}
        (directory / f"{self.name}.json").write_text(json.dumps(state))
        return {"file": f"{self.name}.json", "weights": f"{self.name}.safetensors"}

    @classmethod
    def load(cls, directory: Path, entry: dict) -> "SequenceModel":
        from safetensors.torch import load_file

        s = json.loads((directory / entry["file"]).read_text())
        m = cls(seed=s["seed"], params=s["params"])
        m.columns_, m.params_, m.best_epoch_ = s["columns"], s["params"], s["best_epoch"]
        m._layout(m.columns_)
        for k in ("seq_mean", "seq_scale", "stable_median", "stable_mean", "stable_scale"):
            setattr(m, f"{k}_", np.asarray(s[k], dtype=float))
        for k in ("seq_lower", "seq_upper", "stable_lower", "stable_upper"):  # absent before the bounds
            setattr(m, f"{k}_", np.asarray(s[k], dtype=float) if k in s else None)
        net = _network(m.cell, len(m.month_names_), len(m.stable_), m.params_["hidden"],
                       m.params_["units"], m.params_["dropout"])
        net.load_state_dict(load_file(str(directory / entry["weights"])))
        net.eval()
        m.net_ = net
        return m


class LSTMModel(SequenceModel):
    name = "lstm"
    cell = "lstm"


class GRUModel(SequenceModel):
    name = "gru"
    cell = "gru"
