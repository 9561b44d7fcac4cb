"""Fine-tuning from a Keras model file: ``sepconv-torch fit --model.architecture m.keras
--model.init_from_file true`` and ``sepconv-keras train --architecture m.keras --init-from-file`` start
from the file's weights, BatchNorm moving statistics included; a resumed fit takes the checkpoint's and
needs no file; values that hold no weights, and unusable weights, are refused in one line.

The file: a small network of the family (Conv2D, BatchNorm, a depthwise-multiplier-2 SeparableConv2D,
BatchNorm, pooling, Dense) with every weight drawn away from its initial value. Its BatchNorms have
``momentum`` 1 (the moving statistics never move) and the CLI runs train with learning rate 1e-30 (the
recipes refuse 0): no float32 weight with |w| > 1e-20 moves by half an ulp, so a run that started from
the file ends with its weights bit for bit, and one that did not cannot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from commands import assert_refused
from commands import run as run_command
from torch_runs import QUIET, run

from sepconv import arch as A
from sepconv.errors import InputError
from sepconv.init_file import init_file
from sepconv_torch.lit_module import SepConvLitModule

SMALL = {
    "name": "small_bn",
    "input_shape": [28, 28, 1],
    "layers": [
        {"class": "Conv2D", "name": "conv", "filters": 4, "kernel_size": 3, "padding": "same"},
        {"class": "BatchNormalization", "name": "conv_bn", "momentum": 1.0},
        {"class": "ReLU", "name": "relu"},
        {"class": "SeparableConv2D", "name": "sep", "filters": 6, "kernel_size": 3, "depth_multiplier": 2,
         "strides": 2, "padding": "same"},
        {"class": "BatchNormalization", "name": "sep_bn", "momentum": 1.0, "epsilon": 0.01},
        {"class": "Activation", "name": "sep_relu", "activation": "relu"},
        {"class": "MaxPooling2D", "name": "pool", "pool_size": 2},
        {"class": "Flatten", "name": "flat"},
        {"class": "Dense", "name": "out", "units": 10, "activation": "softmax"},
    ],
}  # fmt: skip
FIT = [
    "--model.init_from_file=true",
    "--model.lr=1e-30",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    *QUIET,
]
LAST = "lightning_logs/version_0/checkpoints/last.ckpt"


def _keras_model(seed: int = 0, nan: bool = False) -> Any:
    """The Keras model of ``SMALL`` with every weight drawn away from 0 and from its initial value
    (moving variances in [0.5, 1.5]); ``nan``: one NaN in the Dense kernel."""
    from sepconv_keras.arch import build_keras

    model = build_keras(A.from_dict(SMALL), seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = []
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "variance" in variable.name:
                value = rng.uniform(0.5, 1.5, shape)
            else:
                value = rng.normal(0.0, 0.3, shape)
                value = np.where(np.abs(value) < 0.01, 0.01, value)
            arrays.append(value.astype(np.float32))
        layer.set_weights(arrays)
    if nan:
        kernel = model.get_layer("out").kernel
        kernel.assign(np.where(np.arange(kernel.shape[0])[:, None] == 3, np.nan, np.asarray(kernel)))
    return model


def _arrays(model: Any) -> dict[str, list[np.ndarray]]:
    return {
        layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in model.layers if layer.weights
    }


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``m.keras`` and ``m.h5`` of the model (the same weights), in a module-wide folder."""
    folder = tmp_path_factory.mktemp("init_file")
    model = _keras_model()
    model.save(folder / "m.keras")
    model.save(folder / "m.h5")
    np.savez(
        folder / "arrays.npz", **{f"{k}/{i}": a for k, v in _arrays(model).items() for i, a in enumerate(v)}
    )
    return folder / "m.keras"


def _converted(path: Path) -> dict[str, torch.Tensor]:
    """The converter's PyTorch state dict of the Keras file (what ``sepconv-convert`` writes)."""
    from parity.converter.described import keras_described, torch_network

    return torch_network(keras_described(path)).state_dict()


def _misfit(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose config gives layer ``conv`` 5 filters: its weights (4) do not fit."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for layer in config["config"]["layers"]:
                    if layer["config"].get("name") == "conv":
                        layer["config"]["filters"] = 5
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return target


# ---- the module ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_module_starts_from_the_files_weights_buffers_included(keras_file: Path, suffix: str) -> None:
    path = keras_file.with_suffix(suffix)
    module = SepConvLitModule(architecture=str(path), init_from_file=True, retain_host_memory=False)
    built = {k: v.clone() for k, v in module.net.state_dict().items()}
    assert module.hparams["init_from_file"] is True
    module.setup("fit")  # where Lightning loads it: before the optimizer is made
    state = module.net.state_dict()
    expected = _converted(path)
    assert list(state) == list(expected)
    for key, tensor in expected.items():
        assert state[key].dtype == tensor.dtype == (torch.int64 if "num_batches" in key else torch.float32)
        assert torch.equal(state[key], tensor), key  # pure permutations: bit-exact
        if "num_batches" not in key:
            assert not torch.equal(built[key], tensor), f"{key}: the built network already held it"
    # BatchNorm's moving statistics are the file's own arrays, and a depthwise kernel its permutation
    stored = np.load(keras_file.with_name("arrays.npz"))
    np.testing.assert_array_equal(state["conv_bn.running_mean"].numpy(), stored["conv_bn/2"])
    np.testing.assert_array_equal(state["sep_bn.running_var"].numpy(), stored["sep_bn/3"])
    kh, kw, c, m = stored["sep/0"].shape
    depthwise = stored["sep/0"].transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    np.testing.assert_array_equal(state["sep.conv_dw.weight"].numpy(), depthwise)
    module.setup("fit")  # once: a second setup copies nothing
    assert all(torch.equal(module.net.state_dict()[k], v) for k, v in expected.items())


_WITHOUT_TENSORFLOW = """
import sys
import torch
from sepconv_torch.lit_module import SepConvLitModule
module = SepConvLitModule(architecture=sys.argv[1], init_from_file=True, retain_host_memory=False)
module.setup("fit")
torch.save(module.net.state_dict(), sys.argv[2])
print(sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "parity", "tf_keras"}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_the_torch_side_reads_the_file_without_tensorflow(
    keras_file: Path, suffix: str, tmp_path: Path
) -> None:
    """A fresh ``sepconv_torch`` process reads the file with h5py and JSON alone: neither TensorFlow, Keras
    nor the converter is imported, and the weights are the converter's, bit for bit."""
    path, out = keras_file.with_suffix(suffix), tmp_path / "state.pt"
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TENSORFLOW, str(path), str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
    state, expected = torch.load(out), _converted(path)
    assert list(state) == list(expected)
    assert all(torch.equal(state[k], v) for k, v in expected.items())


@pytest.mark.slow
def test_module_computes_what_the_keras_file_computes(keras_file: Path, splits: Any) -> None:
    import keras

    from sepconv_keras.data import presented_images

    module = SepConvLitModule(architecture=str(keras_file), init_from_file=True, retain_host_memory=False)
    module.load_init_file()
    x = presented_images(splits, (28, 28, 1))[2][:256]
    model = keras.models.load_model(keras_file, compile=False)
    want = np.asarray(model.predict(x, batch_size=256, verbose=0))
    module.eval()
    with torch.no_grad():
        found = torch.softmax(module(torch.from_numpy(x).permute(0, 3, 1, 2)), dim=-1).numpy()
    np.testing.assert_allclose(found, want, atol=1e-5)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "no model.architecture given"),
        ("mobilenet_v1_025_32", "'mobilenet_v1_025_32' is a shipped description"),
        (str(A.description_path("reference")), "reference.yaml' is a YAML description"),
        ("model.json", "'model.json' is a Keras model config"),
        ("model.weights.h5", "is a weights-only file"),
    ],
)
def test_values_without_weights_are_refused(value: str | None, fragment: str) -> None:
    with pytest.raises(InputError, match=r"holds no weights|no model\.architecture") as caught:
        SepConvLitModule(architecture=value, init_from_file=True)
    message = str(caught.value)
    assert fragment in message and "model.init_from_file needs model.architecture" in message
    assert "(.keras, .h5)" in message and "\n" not in message


def test_description_data_is_refused_where_nothing_is_resumed() -> None:
    """As ``sepconv-torch fit`` checks a fresh fit; the module itself takes the data (a checkpoint's
    record), since its weights then come from the checkpoint."""
    with pytest.raises(InputError, match=r"model\.architecture is description data, which holds no weights"):
        init_file(SMALL, "model.architecture", "model.init_from_file")
    module = SepConvLitModule(architecture=A.to_dict(A.from_dict(SMALL)), init_from_file=True)
    assert module.hparams["init_from_file"] is True and module._init_file is None


# ---- the commands ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.realdata
def test_torch_fit_fine_tunes_and_a_resume_takes_the_checkpoint_without_the_file(
    keras_file: Path, tmp_path: Path
) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(keras_file.read_bytes())
    root = f"--trainer.default_root_dir={tmp_path / 'run'}"
    first = [f"--model.architecture={model}", root, *FIT]
    run("fit", *first, "--trainer.max_epochs=1")
    ckpt = tmp_path / "run" / LAST
    stored = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert stored["hyper_parameters"]["init_from_file"] is True
    found = {k.removeprefix("net."): v for k, v in stored["state_dict"].items()}
    expected = _converted(keras_file)
    assert list(found) == list(expected)
    for key, tensor in expected.items():  # the file's weights after 2 steps at lr 1e-30; 2 batches counted
        assert torch.equal(found[key], tensor + 2 if "num_batches" in key else tensor), key

    # the checkpoint's weights moved, the file made unusable: a resume reads neither the file nor its weights
    stored["state_dict"]["net.conv.weight"] += 0.25
    torch.save(stored, ckpt)
    _keras_model(nan=True).save(model)
    run("fit", *first, "--ckpt_path=last", "--trainer.max_epochs=2")
    resumed = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(resumed["net.conv.weight"], stored["state_dict"]["net.conv.weight"])
    assert torch.equal(resumed["net.sep_bn.running_var"], expected["sep_bn.running_var"])

    model.unlink()  # and without the file at all (the network is the checkpoint's)
    run("fit", root, *FIT, "--ckpt_path=last", "--trainer.max_epochs=3")
    again = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert again["global_step"] == 6 and again["hyper_parameters"]["init_from_file"] is True
    assert torch.equal(again["state_dict"]["net.conv.weight"], stored["state_dict"]["net.conv.weight"])


@pytest.mark.slow
@pytest.mark.realdata
def test_keras_train_fine_tunes(keras_file: Path, tmp_path: Path) -> None:
    import keras

    out = tmp_path / "out"
    proc = run_command(
        "sepconv-keras",
        "train",
        "--architecture",
        keras_file,
        "--init-from-file",
        "--lr",
        "1e-30",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--output-dir",
        out,
        "--verbose",
        "0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    trained = _arrays(keras.models.load_model(out / "last.keras", compile=False))
    stored = np.load(keras_file.with_name("arrays.npz"))
    assert sorted(f"{k}/{i}" for k, v in trained.items() for i in range(len(v))) == sorted(stored)
    for name, arrays in trained.items():
        for i, array in enumerate(arrays):
            np.testing.assert_array_equal(array, stored[f"{name}/{i}"], err_msg=f"{name}/{i}")


@pytest.mark.slow
@pytest.mark.realdata
def test_keras_resume_reads_no_file(keras_file: Path, tmp_path: Path) -> None:
    """A run killed after an epoch resumes from its backup: with the same options and the file made
    unusable (not read again), and with ``--resume`` alone once the file is gone (the recorded network)."""
    import keras
    from keras_runs import kill_after_first_backup
    from keras_runs import run as keras_run

    model = tmp_path / "m.keras"
    model.write_bytes(keras_file.read_bytes())
    short = ["--lr", "1e-30", "--epochs", "3", "--steps-per-epoch", "2"]
    given = ["--architecture", str(model), "--init-from-file", *short]
    killed = tmp_path / "killed"
    kill_after_first_backup(killed, *given)

    stored = np.load(keras_file.with_name("arrays.npz"))
    _keras_model(nan=True).save(model)
    for name, args in (("same", given), ("alone", short)):
        out = tmp_path / name
        shutil.copytree(killed, out)
        if name == "alone":
            model.unlink()
        keras_run(*args, "--output-dir", str(out), "--resume")
        trained = _arrays(keras.models.load_model(out / "last.keras", compile=False))
        for layer, arrays in trained.items():
            for i, array in enumerate(arrays):
                np.testing.assert_array_equal(array, stored[f"{layer}/{i}"], err_msg=f"{name}: {layer}/{i}")


def _refusal_case(kind: str, keras_file: Path, tmp_path: Path) -> tuple[str | None, str]:
    """``(architecture value, a fragment of the refusal)``."""
    if kind == "shipped":
        return "mobilenet_v1_025_32", "'mobilenet_v1_025_32' is a shipped description, which holds no weights"
    if kind == "yaml":
        return str(A.description_path("reference")), "reference.yaml' is a YAML description"
    if kind == "none":
        return None, "no {option} given"
    if kind == "nan":
        path = tmp_path / "nan.keras"
        _keras_model(nan=True).save(path)
        return str(path), f"{path}: unusable weights: out/kernel: NaN or Inf (10 of 2940)"
    path = _misfit(keras_file, tmp_path / "misfit.keras")
    return str(path), f"{path}: conv/kernel has shape (3, 3, 1, 4), the description (3, 3, 1, 5)"


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("kind", ["shipped", "yaml", "none", "nan", "misfit"])
@pytest.mark.parametrize("prog", ["sepconv-torch", "sepconv-keras"])
def test_commands_refuse_in_one_line(prog: str, kind: str, keras_file: Path, tmp_path: Path) -> None:
    value, fragment = _refusal_case(kind, keras_file, tmp_path)
    if prog == "sepconv-torch":
        given = [] if value is None else [f"--model.architecture={value}"]
        args = ["fit", *given, f"--trainer.default_root_dir={tmp_path / 'run'}", *FIT]
        option, flag = "model.architecture", "model.init_from_file"
    else:
        given = [] if value is None else ["--architecture", value]
        args = ["train", *given, "--init-from-file", "--output-dir", str(tmp_path / "run"), "--verbose", "0"]
        option, flag = "--architecture", "--init-from-file"
    proc = run_command(prog, *args)
    fragments = [fragment.format(option=option)]
    if kind in ("shipped", "yaml", "none"):
        fragments.append(f"{flag} needs {option} to be a Keras model file (.keras, .h5)")
    else:
        fragments.append("training would start from them; nothing was trained" if kind == "nan" else "")
    assert_refused(proc, prog, *fragments)
    assert not list((tmp_path / "run").rglob("*.ckpt")) + list((tmp_path / "run").rglob("*.keras"))
