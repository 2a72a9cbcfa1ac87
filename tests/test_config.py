import dataclasses

import pytest

from irlkit import config


def test_every_profile_loads_and_validates():
    for name in config.PROFILES:
        cfg = config.load(name)
        assert cfg.profile == name and cfg.sizes and cfg.rlhf.beta > 0


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, paper"):
        config.load("gpu")


def test_overrides_dotted_and_by_section():
    a = config.load("smoke", seed=3, **{"rlhf.steps": 7})
    b = config.load("smoke", seed=3, rlhf={"steps": 7})
    assert a == b and a.rlhf.steps == 7 and a.seed == 3
    assert config.load("smoke", **{"rlhf.learning_rate": 1})  .rlhf.learning_rate == 1.0  # int accepted for float


@pytest.mark.parametrize("overrides, error, text", [
    ({"rlhf.stepz": 3}, KeyError, "valid"),
    ({"nope": 1}, KeyError, "valid"),
    ({"rlhf.steps": "many"}, TypeError, "rlhf.steps must be int"),
    ({"seed": True}, TypeError, "seed must be int"),
    ({"rlhf.beta": 0.0}, ValueError, "beta must be > 0"),
    ({"rlhf.num_generations": 1}, ValueError, "num_generations"),
    ({"irl.losses": ("max_margin", "square")}, ValueError, "unknown loss 'square'"),
    ({"sampling.unaligned": "sft"}, ValueError, "'start' or 'base'"),
    ({"irl.probe_pooling": "max"}, ValueError, "'last' or 'mean'"),
    ({"refinetune.seeds": 0}, ValueError, "refinetune.seeds and refinetune.random_heads must be >= 1"),
    ({"refinetune.random_heads": 0}, ValueError, "must be >= 1"),
])
def test_bad_overrides_fail_clearly(overrides, error, text):
    with pytest.raises(error, match=text):
        config.load("smoke", **overrides)


def test_config_is_frozen_and_hash_is_stable():
    cfg = config.load("cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1
    assert cfg.hash() == config.load("cpu").hash() != config.load("cpu", seed=1).hash()
    assert cfg.hash("rlhf") == config.load("cpu", seed=1).hash("rlhf")


def test_every_field_has_a_docstring():
    import inspect

    for cls in (config.DataConfig, config.RLHFConfig, config.SamplingConfig, config.IRLConfig, config.EvalConfig,
                config.RefinetuneConfig, config.PolicySpec):
        src = inspect.getsource(cls)
        for f in dataclasses.fields(cls):
            after = src.split(f"    {f.name}:", 1)[1].split("\n", 2)
            assert after[1].strip().startswith('"""'), f"{cls.__name__}.{f.name} has no docstring"
