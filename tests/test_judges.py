"""The ToxBlock port must be faithful; every judge must handle bad input."""
import numpy as np
import pytest
import torch

from irlkit import judges

# Expected P(toxic) of the torch port (rescaled "toxic" head, as ToxBlock's make_predictions),
# computed once on 2026-11-24 with `ToxBlockJudge().score(TEXTS)`, after the port had reproduced
# the original Keras model's ROC-AUC on the insults labels (0.865, as the project's original design recorded it; see the AUC test
# below). A change in tokenisation, gate order or activations moves these numbers.
TEXTS = ["You are a complete idiot and everyone hates you.", "Thank you for the thoughtful reply, I learned a lot.",
         "shut the fuck up", "I will find you and hurt you", "", "Ça va? Très bien, merci!", "word " * 10000]
EXPECTED = [0.9942117983398641, 0.0011988351809008755, 0.9955841349757681, 0.5418442530459119, 0.01742050654813536,
            0.03461111827708274, 0.006148256178099085]


@pytest.fixture(scope="module")
def toxblock():
    return judges.ToxBlockJudge()


def test_toxblock_fixed_inputs(toxblock):
    np.testing.assert_allclose(toxblock.score(TEXTS), EXPECTED, rtol=1e-5, atol=1e-6)


def test_toxblock_matches_an_independent_numpy_lstm(toxblock):
    """The Keras equations written out again in numpy, step by step, without the torch module."""
    sd = {k: v.detach().numpy().astype(np.float64) for k, v in toxblock.net.state_dict().items()}
    ids = toxblock.tokenizer.encode(TEXTS[:4]).numpy()
    hs = lambda z: np.clip(0.2 * z + 0.5, 0, 1)  # noqa: E731

    def lstm(x, prefix):
        k, rk, b = sd[f"{prefix}.kernel"], sd[f"{prefix}.recurrent_kernel"], sd[f"{prefix}.bias"]
        u = rk.shape[0]
        h, c, outs = np.zeros((x.shape[0], u)), np.zeros((x.shape[0], u)), []
        for t in range(x.shape[1]):
            z = x[:, t] @ k + h @ rk + b
            i, f, g, o = hs(z[:, :u]), hs(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), hs(z[:, 3 * u:])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        return np.stack(outs, 1)

    x = sd["embedding.weight"][ids]
    pooled = np.concatenate([lstm(x, "forward_lstm"), lstm(x[:, ::-1], "backward_lstm")], -1).max(1)
    dense = np.maximum(pooled @ sd["dense.weight"].T + sd["dense.bias"], 0)
    p = 1 / (1 + np.exp(-(dense @ sd["out.weight"].T + sd["out.bias"])))[:, 0]
    lo, hi = judges.ToxBlockNet.RESCALE["toxic"]
    np.testing.assert_allclose(np.clip(np.abs((p - lo) / (hi - lo)), 0, 1), toxblock.score(TEXTS[:4]), rtol=1e-5)


def test_toxblock_matches_the_keras_model_in_the_original_h5(toxblock, tmp_path):
    """An independent reference: the weights read by Keras layer name straight from ToxBlock's own h5
    (inside the verified wheel; not through the port's converter), its layer config checked, and the
    Keras forward pass written out in numpy: Embedding, Bidirectional(LSTM, return_sequences, concat),
    GlobalMaxPool1D, Dense(relu), Dense(sigmoid)."""
    import io
    import json
    import zipfile

    import h5py

    from irlkit import assets

    wheel = assets.download(assets.ASSETS["toxblock"].packages[0])
    member = next(m for m, _ in assets.ASSETS["toxblock"].files if m.endswith(".h5"))
    with zipfile.ZipFile(wheel) as z, h5py.File(io.BytesIO(z.read(member)), "r") as f:
        layers = {layer["class_name"]: layer["config"] for layer in json.loads(f.attrs["model_config"])["config"]["layers"]}
        w = f["model_weights"]
        weight = lambda name: np.asarray(w[name][()], np.float64)  # noqa: E731
        emb = weight("embedding/embedding/embeddings:0")
        lstms = {d: [weight(f"bidirectional/bidirectional/{d}_lstm/{k}:0") for k in ("kernel", "recurrent_kernel", "bias")]
                 for d in ("forward", "backward")}
        dense = weight("dense/dense/kernel:0"), weight("dense/dense/bias:0")
        out = weight("dense_1/dense_1/kernel:0"), weight("dense_1/dense_1/bias:0")
    lstm_cfg = layers["Bidirectional"]["layer"]["config"]
    assert layers["Bidirectional"].get("merge_mode", "concat") == "concat" and lstm_cfg["return_sequences"]
    assert not layers["Embedding"].get("mask_zero", False), "no masking: padding steps run through the LSTM"
    assert (lstm_cfg["activation"], lstm_cfg["recurrent_activation"]) == ("tanh", "hard_sigmoid")

    hard_sigmoid = lambda z: np.clip(0.2 * z + 0.5, 0, 1)  # noqa: E731  (Keras 2.2's)

    def keras_lstm(x, kernel, recurrent, bias):
        u = recurrent.shape[0]
        h, c, states = np.zeros((len(x), u)), np.zeros((len(x), u)), []
        for t in range(x.shape[1]):
            z = x[:, t] @ kernel + h @ recurrent + bias  # Keras gate order: i, f, c, o
            i, f_, g, o = hard_sigmoid(z[:, :u]), hard_sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), hard_sigmoid(z[:, 3 * u:])
            c = f_ * c + i * g
            h = o * np.tanh(c)
            states.append(h)
        return np.stack(states, 1)

    x = emb[toxblock.tokenizer.encode(TEXTS[:4]).numpy()]
    both = np.concatenate([keras_lstm(x, *lstms["forward"]), keras_lstm(x[:, ::-1], *lstms["backward"])[:, ::-1]], -1)
    hidden = np.maximum(both.max(1) @ dense[0] + dense[1], 0)
    p_toxic = (1 / (1 + np.exp(-(hidden @ out[0] + out[1]))))[:, 0]
    lo, hi = judges.ToxBlockNet.RESCALE["toxic"]
    np.testing.assert_allclose(np.clip(np.abs((p_toxic - lo) / (hi - lo)), 0, 1), toxblock.score(TEXTS[:4]), rtol=1e-5)


def test_keras_tokenizer_rules(toxblock):
    tok = toxblock.tokenizer
    assert tok.words("Hello, WORLD!!  a-b") == ["hello", "world", "a", "b"]
    ids = tok.encode(["idiot"])[0]
    assert ids[:-1].eq(0).all() and ids[-1] > 0  # pre-padding
    long = tok.encode(["idiot " + "thanks " * 200])[0]
    assert long.eq(tok.word_index["thanks"]).all()  # pre-truncation keeps the end


def test_toxblock_auc_on_human_labels(toxblock):
    from sklearn.metrics import roc_auc_score

    from irlkit.data import _insults_raw

    raw = _insults_raw()
    auc = roc_auc_score(raw.human_label, toxblock.score(list(raw.text)))
    assert auc == pytest.approx(0.865, abs=0.005)


@pytest.mark.parametrize("make", [judges.ToxBlockJudge, judges.ProfanityCheckJudge])
def test_bad_input_is_rejected_or_defined(make):
    judge = make()
    with pytest.raises(TypeError, match="list of strings"):
        judge.score("a single string")
    with pytest.raises(TypeError, match="position 1"):
        judge.score(["ok", 3])
    p = judge.score(["", "   ", "日本語のテキスト", "word " * 10000])
    assert p.shape == (4,) and np.all((p >= 0) & (p <= 1))
    assert judge.score([]).shape == (0,)


def test_unknown_label_and_judge_names():
    with pytest.raises(ValueError, match="valid"):
        judges.ToxBlockJudge(label="rude")
    with pytest.raises(ValueError, match="valid"):
        judges.make_judge("roberta")


def test_hf_classifier_judge_on_a_local_folder(tmp_path):
    """The paper's judge path, on a local folder in Hub format with a named toxic label."""
    from transformers import GPTNeoXConfig, GPTNeoXForSequenceClassification

    from irlkit import models

    tok = models.load_tokenizer(models.materialise("tiny:0"))
    cfg = GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "neutral", 1: "toxic"},
                        label2id={"neutral": 0, "toxic": 1}, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    GPTNeoXForSequenceClassification(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    judge = judges.make_judge(f"hf:{tmp_path}")
    p = judge.score(["hello there", "you idiot", ""])
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    with pytest.raises(ValueError, match="neutral"):
        judges.HFClassifierJudge(str(tmp_path), label="hate")


def test_profanity_check_files_are_verified_before_they_are_unpickled(monkeypatch):
    from irlkit import assets

    assets.verify_profanity_check()  # the installed, pinned files pass
    tampered = {name: "0" * 64 for name in assets.PROFANITY_CHECK["files"]}
    monkeypatch.setitem(assets.PROFANITY_CHECK, "files", tampered)
    with pytest.raises(assets.AssetError, match="model.joblib"):
        assets.verify_profanity_check()
