"""draw_categorical: torch.multinomial's law and shapes, by inverse CDF; and where it is switched in."""
import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from irlkit import models, sampling


def _weights(vocab: int = 2500) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    w = torch.rand(vocab, generator=g) ** 4  # uneven, over three blocks, the last one partial
    w[::7] = 0
    w[-1] = 50.0  # one heavy token at the very end
    return w


def test_draws_follow_the_weights_and_never_a_zero_weight_token():
    w = _weights()
    n = 200_000
    draws = sampling.draw_categorical(w.expand(n, -1).contiguous(), torch.Generator().manual_seed(0))[:, 0]
    counts = np.bincount(draws.numpy(), minlength=len(w))
    assert counts[(w == 0).numpy()].sum() == 0
    expected = (w / w.sum()).double().numpy() * n
    keep = expected > 0
    assert chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > 1e-3


def test_shapes_dtype_and_seeding_are_torch_multinomials():
    w = _weights(300)
    for probs in (w, w.expand(5, -1)):
        ours = sampling.draw_categorical(probs.contiguous(), torch.Generator().manual_seed(3))
        assert ours.shape == torch.multinomial(probs, 1).shape and ours.dtype == torch.int64
        assert torch.equal(ours, sampling.draw_categorical(probs.contiguous(), torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_an_invalid_distribution_is_refused(bad):
    w = _weights(300)
    w[10] = bad
    with pytest.raises(RuntimeError, match="probability tensor"):
        sampling.draw_categorical(w)


def test_generate_samples_through_it_inside_the_block_and_torch_after(data_home, monkeypatch):
    model, tok = models.load_policy(models.materialise("tiny:0"))
    torch_multinomial, calls = torch.multinomial, []
    draw = sampling.draw_categorical
    monkeypatch.setattr(sampling, "draw_categorical", lambda p, g=None: calls.append(p.shape) or draw(p, g))
    prompts = ["you are", "the weather is", "numbers like"]
    kwargs = dict(max_new_tokens=5, do_sample=True, seed=7, show_progress=False)
    with sampling.inverse_cdf_sampling():
        first = sampling.generate(model, tok, prompts, **kwargs)
        assert torch.multinomial(torch.ones(2, 4), 2).shape == (2, 2)  # other calls go to torch
    assert len(calls) == 5  # one draw per new token, for the whole batch
    assert torch.multinomial is torch_multinomial
    sampling.generate(model, tok, prompts, **kwargs)
    assert len(calls) == 5  # outside the block: torch's own
    with sampling.inverse_cdf_sampling():
        assert sampling.generate(model, tok, prompts, **kwargs) == first  # the same seed, the same texts
