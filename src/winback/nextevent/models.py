"""Next-event candidates: most frequent, first-order Markov, LightGBM on n-gram and time
features, and PyTorch LSTM, GRU, 1-D CNN and the CNN -> bidirectional GRU hybrid of seed 001.

All share `fit(train, valid)` and `predict_proba(samples) -> (n, 5)` over CLASSES. The networks
embed event type, brand and category, add log gap and log price per step and the time context
(hour, weekday, month, position) in the head; they stop early on the validation log loss and
roll back to the best epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from winback.models.torch_support import adam, require_torch
from winback.nextevent.dataset import CLASSES, EVENT_TYPES, Samples
from winback.threads import lightgbm_threads, prediction_threads

N_CLASSES = len(CLASSES)
N_TYPES = len(EVENT_TYPES) + 1  # with the padding code 0


class MostFrequent:
    name = "most_frequent"

    def save(self, directory, stem: str) -> dict:
        return {"prior": self.prior_.tolist()}

    @classmethod
    def load(cls, directory, entry: dict) -> "MostFrequent":
        m = cls()
        m.prior_ = np.asarray(entry["prior"], dtype=float)
        return m

    def fit(self, train: Samples, valid: Samples | None = None) -> "MostFrequent":
        counts = np.bincount(train.target, minlength=N_CLASSES) + 1.0
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, s: Samples) -> np.ndarray:
        return np.tile(self.prior_, (len(s), 1))


class Markov:
    """P(next | current event type), with add-one smoothing."""

    name = "markov"

    def save(self, directory, stem: str) -> dict:
        return {"table": self.table_.tolist()}

    @classmethod
    def load(cls, directory, entry: dict) -> "Markov":
        m = cls()
        m.table_ = np.asarray(entry["table"], dtype=float)
        return m

    def fit(self, train: Samples, valid: Samples | None = None) -> "Markov":
        counts = np.ones((N_TYPES, N_CLASSES))
        np.add.at(counts, (train.types[:, -1], train.target), 1.0)
        self.table_ = counts / counts.sum(axis=1, keepdims=True)
        return self

    def predict_proba(self, s: Samples) -> np.ndarray:
        return self.table_[s.types[:, -1]]


def ngram_features(s: Samples) -> np.ndarray:
    """Types of the last k events (newest last), bigram code of the last two, counts of each
    type, gaps, prices and context: what a tree model needs in place of a sequence."""
    k = s.types.shape[1]
    counts = np.stack([(s.types == t).sum(axis=1) for t in range(1, N_TYPES)], axis=1)
    bigram = s.types[:, -2] * N_TYPES + s.types[:, -1] if k > 1 else s.types[:, -1]
    return np.column_stack([s.types, bigram, counts, s.numeric[:, :, 0], s.numeric[:, :, 1],
                            s.context]).astype(np.float32)


class _NGramBooster:
    """LightGBM on `ngram_features`, early-stopped on the validation samples; saved as text.
    Subclasses say which target and objective."""

    objective: dict[str, Any] = {}

    def __init__(self, seed: int = 0, rounds: int = 200):
        self.seed, self.rounds = seed, rounds

    def _target(self, s: Samples) -> np.ndarray:
        raise NotImplementedError

    def _dataset(self, s: Samples, reference=None):
        import lightgbm as lgb

        return lgb.Dataset(ngram_features(s), self._target(s), reference=reference,
                           categorical_feature=self._categorical(s))

    def _categorical(self, s: Samples) -> list[int] | str:
        return "auto"

    def fit(self, train: Samples, valid: Samples | None = None):
        import lightgbm as lgb

        params = {**self.objective, "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 50,
                  "verbose": -1, "seed": self.seed, "num_threads": lightgbm_threads(), "deterministic": True,
                  "force_row_wise": True}  # not chosen by timing: the same model every run
        data = self._dataset(train)
        sets, callbacks = [], []
        if valid is not None:
            sets = [self._dataset(valid, reference=data)]
            callbacks = [lgb.early_stopping(20, verbose=False)]
        self.booster_ = lgb.train(params, data, self.rounds, valid_sets=sets, callbacks=callbacks)
        return self

    def save(self, directory, stem: str) -> dict:
        (directory / f"{stem}.txt").write_text(self.booster_.model_to_string())
        return {"file": f"{stem}.txt"}

    @classmethod
    def load(cls, directory, entry: dict):
        import lightgbm as lgb

        m = cls()
        m.booster_ = lgb.Booster(model_str=(directory / entry["file"]).read_text())
        return m


class NGramLightGBM(_NGramBooster):
    """The next event, multiclass; the type codes and the bigram are categorical."""

    name = "lightgbm"
    objective = {"objective": "multiclass", "num_class": N_CLASSES}

    def _target(self, s: Samples) -> np.ndarray:
        return s.target

    def _categorical(self, s: Samples) -> list[int]:
        return list(range(s.types.shape[1] + 1))  # the type codes and the bigram

    def predict_proba(self, s: Samples) -> np.ndarray:
        X = ngram_features(s)
        return self.booster_.predict(X, num_threads=prediction_threads(len(X)))


class PurchaseInSession(_NGramBooster):
    """P(a purchase later in the session) from the same n-gram features: the churn alert of
    seed 001 (a shopper unlikely to buy before leaving)."""

    objective = {"objective": "binary"}

    def _target(self, s: Samples) -> np.ndarray:
        return s.purchase_later

    def predict(self, s: Samples) -> np.ndarray:
        X = ngram_features(s)
        return self.booster_.predict(X, num_threads=prediction_threads(len(X)))


def _torch():
    return require_torch("The neural next-event candidates")


def _network(arch: str, n_brands: int, n_categories: int, n_context: int, hidden: int):
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.type_emb = nn.Embedding(N_TYPES, 8)
            self.brand_emb = nn.Embedding(n_brands, 8)
            self.cat_emb = nn.Embedding(n_categories, 8)
            width = 8 * 3 + 2
            if arch in ("cnn", "cnn_bigru"):
                self.conv = nn.Sequential(nn.Conv1d(width, hidden, kernel_size=3, padding=1), nn.ReLU())
            if arch in ("lstm", "gru"):
                self.rnn = (nn.LSTM if arch == "lstm" else nn.GRU)(width, hidden, batch_first=True)
                out = hidden
            elif arch == "cnn_bigru":
                self.rnn = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
                out = hidden
            else:
                out = hidden
            self.head = nn.Sequential(nn.Linear(out + n_context, hidden), nn.ReLU(),
                                      nn.Dropout(0.1), nn.Linear(hidden, N_CLASSES))

        def forward(self, types, numeric, brand, category, context):
            x = torch.cat([self.type_emb(types), self.brand_emb(brand), self.cat_emb(category),
                           numeric], dim=2)
            if arch in ("lstm", "gru"):
                _, state = self.rnn(x)
                z = (state[0] if isinstance(state, tuple) else state)[-1]
            else:
                c = self.conv(x.transpose(1, 2))
                if arch == "cnn":
                    z = c.max(dim=2).values
                else:
                    _, state = self.rnn(c.transpose(1, 2))
                    z = torch.cat([state[0], state[1]], dim=1)
            return self.head(torch.cat([z, context], dim=1))

    return Net()


class SequenceNet:
    """`arch` in lstm, gru, cnn, cnn_bigru."""

    def __init__(self, arch: str, hidden: int = 64, epochs: int = 12, patience: int = 2,
                 batch_size: int = 1024, learning_rate: float = 3e-3, seed: int = 0):
        self.name = arch
        self.arch, self.hidden, self.epochs, self.patience = arch, hidden, epochs, patience
        self.batch_size, self.learning_rate, self.seed = batch_size, learning_rate, seed

    def _tensors(self, s: Samples):
        torch = _torch()
        brand = np.where(s.brand < self.n_brands_, s.brand, 0)
        cat = np.where(s.category < self.n_categories_, s.category, 0)
        return [torch.from_numpy(a) for a in (s.types, s.numeric, brand, cat, s.context)]

    def fit(self, train: Samples, valid: Samples | None = None) -> "SequenceNet":
        torch = _torch()
        torch.manual_seed(self.seed)
        self.n_brands_ = int(max(train.brand.max(), 0)) + 1
        self.n_categories_ = int(max(train.category.max(), 0)) + 1
        self.net_ = _network(self.arch, self.n_brands_, self.n_categories_, train.context.shape[1],
                             self.hidden)
        opt = adam(self.net_.parameters(), lr=self.learning_rate)
        loss_fn = torch.nn.CrossEntropyLoss()
        X, y = self._tensors(train), torch.from_numpy(train.target)
        gen = torch.Generator().manual_seed(self.seed)
        best, best_state, since = np.inf, None, 0
        self.history_: list[float] = []
        for _ in range(self.epochs):
            self.net_.train()
            for idx in torch.randperm(len(y), generator=gen).split(self.batch_size):
                opt.zero_grad()
                loss_fn(self.net_(*(a[idx] for a in X)), y[idx]).backward()
                opt.step()
            if valid is None:
                continue
            loss = _log_loss(valid.target, self.predict_proba(valid))
            self.history_.append(loss)
            if loss < best - 1e-4:
                best, since = loss, 0
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            else:
                since += 1
                if since >= self.patience:
                    break
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.net_.eval()
        return self

    def predict_proba(self, s: Samples) -> np.ndarray:
        torch = _torch()
        self.net_.eval()
        X = self._tensors(s)
        out = []
        with torch.inference_mode():
            for start in range(0, len(s), 65536):
                out.append(torch.softmax(self.net_(*(a[start:start + 65536] for a in X)), dim=1).numpy())
        return np.concatenate(out).astype(float)

    def parameter_count(self) -> int:
        return int(sum(p.numel() for p in self.net_.parameters()))

    def save(self, directory, stem: str) -> dict:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.net_.state_dict().items()},
                  str(directory / f"{stem}.safetensors"))
        return {"weights": f"{stem}.safetensors", "arch": self.arch, "hidden": self.hidden,
                "n_brands": self.n_brands_, "n_categories": self.n_categories_,
                "n_context": int(self.net_.head[0].in_features - self.hidden)}

    @classmethod
    def load(cls, directory, entry: dict) -> "SequenceNet":
        from safetensors.torch import load_file

        m = cls(entry["arch"], hidden=entry["hidden"])
        m.n_brands_, m.n_categories_ = entry["n_brands"], entry["n_categories"]
        m.net_ = _network(m.arch, m.n_brands_, m.n_categories_, entry["n_context"], m.hidden)
        m.net_.load_state_dict(load_file(str(directory / entry["weights"])))
        m.net_.eval()
        return m


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1))))


def evaluate(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, recall per class (purchase above all), log loss, confusion matrix."""
    from sklearn.metrics import confusion_matrix, f1_score, recall_score

    pred = p.argmax(axis=1)
    labels = list(range(N_CLASSES))
    recall = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "purchase_recall": float(recall[CLASSES.index("purchase")]),
        "recall": {c: float(r) for c, r in zip(CLASSES, recall)},
        "log_loss": _log_loss(y, p),
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
    }


NAMES = ("most_frequent", "markov", "lightgbm", "lstm", "gru", "cnn", "cnn_bigru")


def make(name: str, seed: int = 0):
    if name == "most_frequent":
        return MostFrequent()
    if name == "markov":
        return Markov()
    if name == "lightgbm":
        return NGramLightGBM(seed=seed)
    return SequenceNet(name, seed=seed)


def load(directory, entry: dict):
    name = entry["name"]
    cls = {"most_frequent": MostFrequent, "markov": Markov, "lightgbm": NGramLightGBM}.get(name, SequenceNet)
    return cls.load(directory, entry)


def candidates(seed: int = 0) -> list:
    return [make(n, seed) for n in NAMES]
