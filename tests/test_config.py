import dataclasses

import pytest

from irlkit import config


def test_every_profile_loads_and_validates():
    for name in config.PROFILES:
        cfg = config.load(name)
        assert cfg.profile == name and cfg.sizes and cfg.rlhf.beta > 0


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match=", ".join(config.PROFILES)):
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
    ({"rlhf.beta": 0.0}, ValueError, r"rlhf.beta \(size tiny-a\) must be a finite number > 0"),
    ({"rlhf.num_generations": 1}, ValueError, "num_generations .* must be >= 2"),
    ({"irl.losses": ("max_margin", "square")}, ValueError, "unknown loss 'square'"),
    ({"sampling.unaligned": "sft"}, ValueError, r"must be one of \('start', 'base'\)"),
    ({"irl.probe_pooling": "max"}, ValueError, r"must be one of \('last', 'mean'\)"),
    ({"refinetune.seeds": 0}, ValueError, "refinetune.seeds must be >= 1"),
    ({"refinetune.random_heads": 0}, ValueError, "refinetune.random_heads must be >= 1"),
    # the values a fault injector tried (issue: reliability), and their kin in every section
    ({"rlhf.steps": -5}, ValueError, "rlhf.steps .* must be >= 1, got -5"),
    ({"rlhf.learning_rate": 0.0}, ValueError, "rlhf.learning_rate .* finite number > 0"),
    ({"rlhf.learning_rate": -1e-5}, ValueError, "rlhf.learning_rate .* finite number > 0"),
    ({"rlhf.learning_rate": float("nan")}, ValueError, "rlhf.learning_rate .* got nan"),
    ({"rlhf.temperature": 0.0}, ValueError, "rlhf.temperature"),
    ({"rlhf.precision": "fp8"}, ValueError, "rlhf.precision .* must be one of"),
    ({"data.max_prompts": -10}, ValueError, "data.max_prompts must be >= 0"),
    ({"data.min_words": 0}, ValueError, "data.min_words must be >= 2"),
    ({"irl.probe_seeds": 0}, ValueError, "irl.probe_seeds must be >= 1"),
    ({"irl.full_seeds": 0}, ValueError, "irl.full_seeds must be >= 1"),
    ({"irl.batch_size": 0}, ValueError, "irl.batch_size must be >= 1"),
    ({"sampling.batch_size": 0}, ValueError, "sampling.batch_size must be >= 1"),
    ({"irl.probe_epochs": -1}, ValueError, "irl.probe_epochs must be >= 1"),
    ({"irl.probe_lr": float("inf")}, ValueError, "irl.probe_lr must be a finite number > 0"),
    ({"irl.probe_weight_decay": -0.1}, ValueError, "irl.probe_weight_decay must be >= 0"),
    ({"eval.ci": 1.5}, ValueError, "eval.ci must be strictly between 0 and 1"),
    ({"eval.n_bootstrap": 0}, ValueError, "eval.n_bootstrap must be >= 100"),
    ({"sampling.temperature": -1.0}, ValueError, "sampling.temperature must be a finite number > 0"),
    ({"sampling.max_new_tokens": 0}, ValueError, "sampling.max_new_tokens must be >= 1"),
    ({"refinetune.reward_scale": 0.0}, ValueError, "refinetune.reward_scale"),
    ({"device": "tpu"}, ValueError, "device must be 'cpu', 'cuda' or 'cuda:N'"),
    ({"judge": "bogus"}, ValueError, "judge must be one of"),
    ({"second_judge": "toxblock"}, ValueError, "second_judge must differ from judge"),
    ({"data.dataset": "bogus"}, ValueError, "data.dataset must be one of"),
    ({"data.val_fraction": 0.5, "data.test_fraction": 0.49}, ValueError, "at least 10% of the prompts for train"),
    ({"data.val_fraction": 0.0}, ValueError, "data.val_fraction must be strictly between 0 and 1"),
    ({"threads": 0}, ValueError, "threads must be >= 1"),
    ({"replicates": 0}, ValueError, "replicates must be >= 1"),
    # bounds from the machine and the seeds' room (issue: reliability, item 4)
    ({"seed": 4294967296}, ValueError, "seed must be <= 1,048,575"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"rlhf.steps": 10**12}, ValueError, "rlhf.steps .* must be <= 100,000"),
    ({"sampling.max_new_tokens": 10**8}, ValueError, "sampling.max_new_tokens must be <= 4,096"),
    ({"rlhf.lora_targets": (1, 2)}, ValueError, "rlhf.lora_targets .* must be module names"),
    ({"level": "nope"}, ValueError, "no RLHF-strength level 'nope'; its levels: 2x2, 4x2"),
    # sizes from --set, each entry validated into a PolicySpec
    ({"sizes": [{"name": "mine"}]}, ValueError, r"sizes\[0\] needs start, params_m"),
    ({"sizes": [{"name": "mine", "start": "tiny:0", "params_m": "big"}]}, TypeError, r"sizes\[mine\].params_m must be float"),
    ({"sizes": [{"name": "mine", "start": "tiny:0", "params_m": 1, "aligend": "x"}]}, KeyError, "unknown field 'aligend'"),
    ({"sizes": ["tiny-a"]}, TypeError, r"sizes\[0\] must be a dict of PolicySpec fields"),
    ({"sizes": []}, TypeError, "sizes must be a non-empty list"),
    ({"sizes": [{"name": "mine", "start": "tiny:0", "params_m": 1, "rlhf": {"stepz": 3}}]}, KeyError, "stepz"),
])
def test_bad_overrides_fail_clearly(overrides, error, text):
    with pytest.raises(error, match=text):
        config.load("smoke", **overrides)


def test_sizes_from_the_command_line_become_policy_specs():
    cfg = config.load("smoke", sizes=[{"name": "mine", "start": "tiny:0", "params_m": 0.2, "aligned": "tiny:1",
                                       "rlhf": [["steps", 3]]}])
    assert cfg.sizes == (config.PolicySpec("mine", "tiny:0", 0.2, rlhf=(("steps", 3),), aligned="tiny:1"),)
    assert cfg.rlhf_for("mine").steps == 3


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


def test_the_dataset_names_are_the_loaders_names():
    from irlkit import data

    assert tuple(data.LOADERS) == config.DATASETS


def test_hub_references_are_pinned_by_revision_or_listed_as_unpinned():
    from irlkit.config import hub_reference

    assert hub_reference("EleutherAI/pythia-70m@abc123") == ("EleutherAI/pythia-70m", "abc123")
    assert hub_reference("EleutherAI/pythia-70m") == ("EleutherAI/pythia-70m", None)
    assert config.unpinned(config.load("smoke")) == [] and config.unpinned(config.load("cpu")) == []
    paper = config.unpinned(config.load("paper"))
    assert "EleutherAI/pythia-70m" in paper and "s-nlp/roberta_toxicity_classifier" in paper and config.JIGSAW in paper
    pinned = config.load("paper", judge="hf:s-nlp/roberta_toxicity_classifier@0123abcd")
    assert "s-nlp/roberta_toxicity_classifier" not in config.unpinned(pinned)


def test_a_level_applies_its_settings_and_runs_01_to_04():
    weak, strong = config.STRENGTH["smoke"]
    cfg = config.load("smoke", level=strong.name)
    assert cfg.level == strong.name and not cfg.refinetune.enabled
    for name, value in strong.settings:
        section, _, field = name.partition(".")
        assert getattr(getattr(cfg, section), field) == value
    assert cfg.hash() != config.load("smoke", level=weak.name).hash() != config.load("smoke").hash()
    assert config.load("smoke", level=strong.name, **{"rlhf.steps": 9}).rlhf.steps == 9  # an override wins
    for profile, levels in config.STRENGTH.items():
        assert len({lv.name for lv in levels}) == len(levels) >= 2, profile
        for lv in levels:
            config.load(profile, level=lv.name)  # every level validates


def test_the_config_command_prints_the_profiles_or_one_profiles_resolved_settings(capsys):
    import json

    config.main([])
    assert capsys.readouterr().out.split() == list(config.PROFILES)
    config.main(["cpu", "--level", "48x8-beta0.01", "--set", "rlhf.beta=0.1"])
    resolved = json.loads(capsys.readouterr().out)
    cfg = config.load("cpu", level="48x8-beta0.01", **{"rlhf.beta": 0.1})
    assert resolved["config_hash"] == cfg.hash() and resolved["rlhf"]["steps"] == 48
    assert resolved["rlhf_by_size"]["gemma3-270m"]["learning_rate"] == cfg.rlhf_for("gemma3-270m").learning_rate
    with pytest.raises(SystemExit):
        config.main(["cpu", "--set", "rlhf.steps=0"])
    assert "rlhf.steps" in capsys.readouterr().err
