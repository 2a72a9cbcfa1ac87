"""Toxicity judges. One protocol: `judge.score(texts) -> np.ndarray` of P(toxic) in [0, 1].

    judge = make_judge("toxblock")        # cpu ground truth (torch port, no TensorFlow)
    judge = make_judge("profanity-check") # independent second judge
    judge = make_judge("hf:s-nlp/roberta_toxicity_classifier")  # paper ground truth

Input rules, the same for every judge: a list (or tuple) of `str`; anything else
raises TypeError naming the position. Empty and whitespace-only texts are
scored (they get whatever the judge gives a text with no words); very long
texts are truncated the way each judge's training truncated them.
"""
from __future__ import annotations

import json
from typing import Protocol, Sequence

import numpy as np
import torch
from torch import nn

TOXIC_THRESHOLD = 0.5
"""A text is toxic iff P(toxic) >= this (the study's threshold)."""


class Judge(Protocol):
    name: str

    def score(self, texts: Sequence[str]) -> np.ndarray: ...


def check_texts(texts) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"judges score a list of strings, got {type(texts).__name__}; wrap a single text in a list")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text at position {i} is {type(t).__name__}, not str")
    return list(texts)


# -- ToxBlock ---------------------------------------------------------------


class KerasTokenizer:
    """The Keras `Tokenizer.texts_to_sequences` + `pad_sequences` that ToxBlock was trained with."""

    def __init__(self, spec: dict):
        self.word_index = spec["word_index"]
        self.num_words = spec["num_words"]
        self.lower = spec["lower"]
        self.split = spec["split"]
        self.maxlen = spec["maxlen"]
        self.table = str.maketrans({c: spec["split"] for c in spec["filters"]})
        if spec.get("oov_token") or spec.get("char_level") or spec["padding"] != "pre" or spec["truncating"] != "pre":
            raise ValueError("this port implements ToxBlock's tokenizer: word level, no OOV token, pre-padding, pre-truncation")

    def words(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        return [w for w in text.translate(self.table).split(self.split) if w]

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.maxlen, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [i for i in (self.word_index.get(w) for w in self.words(text)) if i is not None and i < self.num_words]
            ids = ids[-self.maxlen:]  # truncating="pre": keep the end
            if ids:
                out[row, self.maxlen - len(ids):] = torch.tensor(ids)  # padding="pre"
        return out


class _KerasLSTM(nn.Module):
    """One direction of a Keras LSTM: gates i, f, c, o; hard-sigmoid recurrent activation."""

    def __init__(self, n_in: int, units: int):
        super().__init__()
        self.units = units
        self.kernel = nn.Parameter(torch.empty(n_in, 4 * units))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, 4 * units))
        self.bias = nn.Parameter(torch.empty(4 * units))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, time, n_in) -> hidden states (batch, time, units)."""
        u = self.units
        hard_sigmoid = lambda z: torch.clamp(0.2 * z + 0.5, 0.0, 1.0)  # noqa: E731  (tf.keras 2.2)
        projected = x @ self.kernel + self.bias
        h = x.new_zeros(x.shape[0], u)
        c = x.new_zeros(x.shape[0], u)
        states = []
        for t in range(x.shape[1]):
            z = projected[:, t] + h @ self.recurrent_kernel
            i, f, g, o = hard_sigmoid(z[:, :u]), hard_sigmoid(z[:, u:2 * u]), torch.tanh(z[:, 2 * u:3 * u]), hard_sigmoid(z[:, 3 * u:])
            c = f * c + i * g
            h = o * torch.tanh(c)
            states.append(h)
        return torch.stack(states, dim=1)


class ToxBlockNet(nn.Module):
    """Embedding -> BiLSTM(50+50) -> max over time -> Dense(50, relu) -> Dense(6, sigmoid)."""

    LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
    # ToxBlock's `make_predictions(rescale=True)` min-max rescales each head with these.
    RESCALE = {"toxic": (0.002116, 0.999858), "severe_toxic": (0.000011, 0.648682), "obscene": (0.000347, 0.997533),
               "threat": (0.000040, 0.918887), "insult": (0.000373, 0.986303), "identity_hate": (0.000074, 0.901117)}

    def __init__(self, vocab: int = 20000, dim: int = 50, units: int = 50):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.forward_lstm = _KerasLSTM(dim, units)
        self.backward_lstm = _KerasLSTM(dim, units)
        self.dense = nn.Linear(2 * units, 50)
        self.out = nn.Linear(50, len(self.LABELS))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        fwd = self.forward_lstm(x)
        bwd = self.backward_lstm(x.flip(1))  # time order does not matter after the max-pool
        pooled = torch.cat([fwd, bwd], dim=-1).max(dim=1).values
        return torch.sigmoid(self.out(torch.relu(self.dense(pooled))))


class ToxBlockJudge:
    name = "toxblock"

    def __init__(self, folder=None, label: str = "toxic", rescale: bool = True, batch_size: int = 256):
        from safetensors.torch import load_file

        from irlkit.assets import require

        if label not in ToxBlockNet.LABELS:
            raise ValueError(f"unknown ToxBlock label {label!r}; valid: {list(ToxBlockNet.LABELS)}")
        folder = folder or require("toxblock")
        self.tokenizer = KerasTokenizer(json.loads((folder / "tokenizer.json").read_text()))
        state = load_file(str(folder / "model.safetensors"))
        self.net = ToxBlockNet(vocab=state["embedding.weight"].shape[0]).eval()
        self.net.load_state_dict(state)
        self.head = ToxBlockNet.LABELS.index(label)
        self.lo, self.hi = ToxBlockNet.RESCALE[label] if rescale else (0.0, 1.0)
        self.batch_size = batch_size

    @torch.inference_mode()
    def score(self, texts: Sequence[str]) -> np.ndarray:
        texts = check_texts(texts)
        out = np.empty(len(texts), dtype=np.float64)
        for start in range(0, len(texts), self.batch_size):
            ids = self.tokenizer.encode(texts[start:start + self.batch_size])
            p = self.net(ids)[:, self.head].double().numpy()
            out[start:start + len(ids)] = np.abs((p - self.lo) / (self.hi - self.lo))
        return np.clip(out, 0.0, 1.0)


# -- profanity-check ----------------------------------------------------------


class ProfanityCheckJudge:
    name = "profanity-check"

    def __init__(self):
        from irlkit.assets import verify_profanity_check

        verify_profanity_check()  # importing the package unpickles its model: check the files first
        from profanity_check import predict_prob

        self._predict_prob = predict_prob

    def score(self, texts: Sequence[str]) -> np.ndarray:
        texts = check_texts(texts)
        if not texts:
            return np.empty(0)
        return np.asarray(self._predict_prob(texts), dtype=np.float64)


# -- any Hugging Face sequence classifier ----------------------------------------


class HFClassifierJudge:
    """A Hub id or local folder with a sequence-classification head and a toxic label."""

    def __init__(self, model_id: str, label: str | None = None, batch_size: int = 64, device: str = "cpu",
                 max_length: int = 512, name: str | None = None):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = name or f"hf:{model_id}"
        self.tokenizer = AutoTokenizer.from_pretrained(model_id)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_id).to(device).eval()
        id2label = {int(i): str(l) for i, l in self.model.config.id2label.items()}
        wanted = [label] if label else ["toxic", "hate", "toxicity", "label_1"]
        matches = [i for w in wanted for i, l in id2label.items() if l.lower() == w.lower()]
        if not matches:
            raise ValueError(f"{model_id} has no label {label or 'toxic/hate'}; its labels are {list(id2label.values())}; "
                             f"pass label=<one of them>")
        self.index = matches[0]
        self.multi_label = self.model.config.problem_type == "multi_label_classification" or len(id2label) == 1
        self.batch_size, self.device, self.max_length = batch_size, device, max_length

    @torch.inference_mode()
    def score(self, texts: Sequence[str]) -> np.ndarray:
        texts = check_texts(texts)
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else (self.tokenizer.eos_token or " ") for t in texts[start:start + self.batch_size]]
            enc = self.tokenizer(batch, padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            logits = self.model(**enc).logits.float()
            probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
            out.append(probs[:, self.index].cpu().double().numpy())
        return np.concatenate(out) if out else np.empty(0)


def make_judge(name: str, device: str = "cpu") -> Judge:
    """`toxblock`, `profanity-check`, or `hf:<model id or folder>[@revision][#label]`."""
    if name == "toxblock":
        return ToxBlockJudge()
    if name == "profanity-check":
        return ProfanityCheckJudge()
    if name.startswith("hf:"):
        from irlkit.models import materialise

        reference, _, label = name[3:].partition("#")
        return HFClassifierJudge(materialise(reference), label or None, device=device, name=name)
    raise ValueError(f"unknown judge {name!r}; valid: 'toxblock', 'profanity-check', 'hf:<model id>[@revision][#label]'")
