"""sepconv.arch without any framework: layers, shapes, counts, YAML, Keras configs read as data, refusals."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import h5py
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepconv import arch as A
from sepconv.spec import REFERENCE, output_shapes, param_counts


def test_reference_description_is_the_spec() -> None:
    ref = A.load_yaml("reference")
    assert ref.count_params() == 184_234
    assert ref.param_counts() == param_counts()
    assert [layer.name for layer in ref.layers] == [s.name for s in REFERENCE]
    assert ref.shapes == output_shapes()
    assert ref.classes == 10


def test_summary_table() -> None:
    lines = A.load_yaml("reference").summary().splitlines()
    assert lines[0].split() == ["layer", "class", "output", "shape", "params"]
    assert lines[2].split() == ["sepconv1", "SeparableConv2D", "(28,", "28,", "32)", "1,344"]
    assert lines[-1] == "reference: input (28, 28, 1), 184,234 parameters"


def test_shipped_descriptions_counts() -> None:
    assert A.load_yaml("standard").count_params() == 435_306
    mobilenet = A.load_yaml("mobilenet_v1_025_32")
    assert mobilenet.count_params() == 221_114  # keras.applications.MobileNet(...).count_params()
    assert mobilenet.shapes["conv_pad_2"] == (17, 17, 16)
    assert mobilenet.shapes["conv_dw_2"] == (8, 8, 16)
    assert mobilenet.shapes["global_average_pooling2d"] == (1, 1, 256)


@pytest.mark.parametrize("name", ["reference", "standard", "mobilenet_v1_025_32"])
def test_yaml_round_trip(name: str, tmp_path: Path) -> None:
    arch = A.load_yaml(name)
    A.dump_yaml(arch, tmp_path / "x.yaml")
    assert A.load_yaml(tmp_path / "x.yaml") == arch


def test_description_travels_as_json() -> None:
    """The plain-data form (what a checkpoint can carry) holds only JSON types and reads back equal."""
    arch = A.load_yaml("mobilenet_v1_025_32")
    assert A.from_dict(json.loads(json.dumps(A.to_dict(arch)))) == arch


def test_stride_two_same_and_valid_shapes() -> None:
    arch = A.Architecture(
        "n",
        (7, 6, 3),
        (
            A.Conv2D("a", 4, (3, 2), strides=2, padding="same"),
            A.DepthwiseConv2D("b", 2, depth_multiplier=3, padding="valid"),
            A.AveragePooling2D("c", 2, strides=1, padding="same"),
            A.GlobalMaxPooling2D("d"),
            A.Dense("e", 5),
        ),
    )
    assert arch.shapes == {"a": (4, 3, 4), "b": (3, 2, 12), "c": (3, 2, 12), "d": (12,), "e": (5,)}
    assert arch.param_counts() == {"a": 3 * 2 * 3 * 4 + 4, "b": 2 * 2 * 4 * 3 + 12, "e": 12 * 5 + 5}


def test_batchnorm_counts_moving_statistics() -> None:
    arch = A.Architecture(
        "n", (4, 4, 2), (A.BatchNormalization("bn", center=False), A.Flatten("f"), A.Dense("d", 3))
    )
    assert arch.param_counts()["bn"] == 3 * 2  # gamma, moving mean, moving variance
    assert arch.trainable_counts()["bn"] == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: A.Conv2D("conv1", 0, 3), "layer 'conv1' (Conv2D): filters must be a positive integer"),
        (lambda: A.Conv2D("conv1", 8, 3, padding="full"), "layer 'conv1' (Conv2D): padding must be one of"),
        (lambda: A.Dense("d", 3, activation="mish"), "layer 'd' (Dense): activation must be one of"),
        (lambda: A.BatchNormalization("bn", epsilon=0), "layer 'bn' (BatchNormalization): epsilon must be"),
        (lambda: A.ReLU("r", max_value=-1), "layer 'r' (ReLU): max_value must be"),
        (lambda: A.Dropout("drop", rate=1.0), "layer 'drop' (Dropout): rate must be"),
        (lambda: A.Reshape("r", (2, 3)), "layer 'r' (Reshape): target_shape must be"),
        (lambda: A.ZeroPadding2D("z", ((1, 2, 3), (4,))), "layer 'z' (ZeroPadding2D): padding must be"),
        (lambda: A.Conv2D("c", 2, (3, 3, 3)), "layer 'c' (Conv2D): kernel_size must be a positive"),
        (lambda: A.Dense("d", (2, 2)), "layer 'd' (Dense): units must be a positive integer, received"),
        (lambda: A.Conv2D("a/b", 8, 3), "a Conv2D layer: name must be a non-empty string without '/'"),
    ],
)
def test_bad_arguments_are_refused_by_name(make, message: str) -> None:
    with pytest.raises(A.ArchitectureError) as error:
        make()
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ((A.Dense("d", 3),), "layer 'd' (Dense): needs an (F,) input"),
        (
            (A.Conv2D("c", 2, 5), A.Flatten("f"), A.Dense("d", 2)),
            "layer 'c' (Conv2D): a window of 5 does not fit",
        ),
        (
            (A.Flatten("f"), A.Dense("d", 2, activation="softmax"), A.Dense("e", 2)),
            "layer 'd' (Dense): softmax",
        ),
        ((A.Flatten("f"), A.Dense("f", 2)), "layer 'f' (Dense): a second layer with this name"),
        ((A.Flatten("a.b"), A.Dense("a_b", 2)), "layer 'a_b' (Dense): its PyTorch name 'a_b' is also"),
        ((A.Conv2D("c", 2, 1),), "layer 'c' (Conv2D): the network must end in (classes,)"),
        (
            (A.BatchNormalization("bn", axis=1), A.Flatten("f"), A.Dense("d", 2)),
            "layer 'bn' (BatchNormalization): axis",
        ),
    ],
)
def test_bad_chains_are_refused_at_the_first_bad_layer(layers, message: str) -> None:
    with pytest.raises(A.ArchitectureError) as error:
        A.Architecture("n", (4, 4, 3), layers)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_yaml_refusals_name_file_layer_and_argument(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\ninput_shape: [4, 4, 1]\nlayers:\n  - {class: Conv2D, name: c, filters: 2, kernl_size: 3}\n"
    )
    with pytest.raises(
        A.ArchitectureError, match=r"bad.yaml: layer 'c' \(Conv2D\): unknown argument 'kernl_size'"
    ):
        A.load_yaml(path)
    path.write_text("name: x\ninput_shape: [4, 4, 1]\nlayers:\n  - {class: Lambda, name: l}\n")
    with pytest.raises(A.ArchitectureError, match=r"bad.yaml: layer 'l': class must be one of"):
        A.load_yaml(path)
    path.write_text(
        "input_shape: [4, 4, 1]\nlayers:\n  - {class: BatchNormalization, name: b, epsilon: 1e-5}\n"
        "  - {class: Flatten, name: f}\n  - {class: Dense, name: d, units: 2}\n"
    )
    assert A.load_yaml(path).layers[0].epsilon == 1e-5  # PyYAML reads 1e-5 as a string


def test_module_names_are_identifiers() -> None:
    assert A.module_name("conv1") == "conv1"
    assert A.module_name("block-1.conv") == "block_1_conv"
    assert A.module_name("2d") == "_2d"
    assert A.module_name("training") == "training_"


# ---- Keras configs read as data (no Keras) ------------------------------------------------------


def _k3_node(name: str) -> list[dict]:
    return [
        {
            "args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}],
            "kwargs": {},
        }
    ]


def _functional(layers: list[dict], output: str) -> dict:
    return {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": layers,
            "input_layers": [["in", 0, 0]],
            "output_layers": [output, 0, 0],
        },
    }


def _entry(cls: str, name: str, inbound: list, **config: object) -> dict:
    return {
        "module": "keras.layers",
        "class_name": cls,
        "registered_name": None,
        "config": {"name": name, **config},
        "inbound_nodes": inbound,
    }


_INPUT = {
    "class_name": "InputLayer",
    "config": {"name": "in", "batch_shape": [None, 8, 8, 3]},
    "inbound_nodes": [],
}


def test_functional_chain_read() -> None:
    config = _functional(
        [
            _INPUT,
            _entry(
                "Conv2D",
                "c",
                _k3_node("in"),
                filters=4,
                kernel_size=[3, 3],
                strides=[2, 2],
                padding="same",
                activation="relu",
                use_bias=False,
                dilation_rate=[1, 1],
                groups=1,
                data_format="channels_last",
            ),
            _entry("GlobalAveragePooling2D", "g", _k3_node("c"), keepdims=False),
            _entry("Dense", "d", _k3_node("g"), units=3, activation="softmax"),
        ],
        "d",
    )
    arch = A.architecture_from_config(config)
    assert arch.input_shape == (8, 8, 3)
    assert arch.layers[0] == A.Conv2D("c", 4, 3, strides=2, padding="same", activation="relu", use_bias=False)
    assert arch.classes == 3


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry("Add", "add", [_k3_node("in")[0], _k3_node("in")[0]]), "layer 'add' (Add): a branch"),
        (_entry("Lambda", "lam", _k3_node("in")), "layer 'lam' (Lambda): a Lambda"),
        (
            _entry("Conv2D", "c", _k3_node("in"), filters=2, kernel_size=[3, 3], dilation_rate=[2, 2]),
            "layer 'c' (Conv2D): dilation_rate=[2, 2] is not supported",
        ),
        (
            _entry("Conv2D", "c", _k3_node("in"), filters=2, kernel_size=[3, 3], groups=3),
            "layer 'c' (Conv2D): groups=3 is not supported",
        ),
        (
            _entry("MaxPooling2D", "p", _k3_node("in"), data_format="channels_first"),
            "layer 'p' (MaxPooling2D): data_format='channels_first'",
        ),
        (
            {**_entry("MyLayer", "mine", _k3_node("in")), "registered_name": "pkg>MyLayer"},
            "layer 'mine' (MyLayer): a custom or unsupported layer class",
        ),
    ],
)
def test_outside_the_family_refused_whole(entry: dict, message: str) -> None:
    config = _functional([_INPUT, entry, _entry("Flatten", "f", _k3_node(entry["config"]["name"]))], "f")
    with pytest.raises(A.ArchitectureError) as error:
        A.architecture_from_config(config, "model.json")
    assert str(error.value).startswith(f"model.json: {message}")


def test_a_skip_connection_is_refused() -> None:
    layers = [
        _INPUT,
        _entry("Conv2D", "a", _k3_node("in"), filters=3, kernel_size=[1, 1]),
        _entry("Conv2D", "b", _k3_node("in"), filters=3, kernel_size=[1, 1]),
    ]
    with pytest.raises(
        A.ArchitectureError, match="layer 'b' \\(Conv2D\\): takes its input from 'in', not from"
    ):
        A.architecture_from_config(_functional(layers, "b"))


def _keras2_sequential() -> dict:
    """A Keras 2 Sequential config as tf.keras 2 writes it (batch_input_shape, BN axis as a list)."""
    return {
        "class_name": "Sequential",
        "config": {
            "name": "k2",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 6, 6, 1], "name": "input_1"},
                },
                {
                    "class_name": "SeparableConv2D",
                    "config": {
                        "name": "s",
                        "filters": 4,
                        "kernel_size": [3, 3],
                        "strides": [1, 1],
                        "padding": "same",
                        "depth_multiplier": 2,
                        "activation": "relu6",
                        "use_bias": True,
                        "dilation_rate": [1, 1],
                        "data_format": "channels_last",
                    },
                },
                {
                    "class_name": "BatchNormalization",
                    "config": {
                        "name": "bn",
                        "axis": [3],
                        "momentum": 0.9,
                        "epsilon": 1e-5,
                        "center": True,
                        "scale": False,
                    },
                },
                {"class_name": "LeakyReLU", "config": {"name": "lr", "alpha": 0.1}},
                {"class_name": "Flatten", "config": {"name": "f", "data_format": "channels_last"}},
                {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "linear"}},
            ],
        },
    }


def test_keras2_h5_and_keras3_zip_and_json_files(tmp_path: Path) -> None:
    config = _keras2_sequential()
    want = A.architecture_from_config(config)
    assert want.layers[1] == A.BatchNormalization("bn", axis=3, momentum=0.9, epsilon=1e-5, scale=False)
    assert want.layers[2] == A.LeakyReLU("lr", 0.1)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
    (tmp_path / "m.json").write_text(json.dumps(config))
    for name in ("m.h5", "m.keras", "m.json"):
        assert A.load_keras_architecture(tmp_path / name) == want
    with h5py.File(tmp_path / "w.weights.h5", "w") as f:
        f.create_group("layers")
    with pytest.raises(A.ArchitectureError, match=r"w\.weights\.h5: an HDF5 file without a model_config"):
        A.load_keras_architecture(tmp_path / "w.weights.h5")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00binary", "the file is not valid JSON"),
        (b"[1, 2]", "the file is not a JSON object"),
        (b'{"class_name": "Dense", "config": {}}', "not a model config (class_name='Dense')"),
    ],
)
def test_a_broken_config_file_is_refused_by_name(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(A.ArchitectureError) as error:
        A.load_keras_architecture(path)
    assert str(error.value).startswith(f"{path}: {message}")


def test_a_corrupt_h5_or_zip_is_refused_by_name(tmp_path: Path) -> None:
    h5 = tmp_path / "broken.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)  # the signature, then nothing HDF5 can read
    with pytest.raises(A.ArchitectureError, match=r"broken\.h5: cannot be read"):
        A.load_keras_architecture(h5)
    with pytest.raises(A.ArchitectureError, match=r"not a file"):
        A.load_keras_architecture(tmp_path)


def test_a_yaml_that_is_not_text_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(A.ArchitectureError, match=r"net\.yaml: not valid YAML"):
        A.load_yaml(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.sampled_from(["Conv2D", "InputLayer", "same", "x"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "class_name",
                    "config",
                    "layers",
                    "name",
                    "filters",
                    "kernel_size",
                    "batch_shape",
                    "inbound_nodes",
                    "output_layers",
                    "padding",
                    "activation",
                    "keras_history",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_JSON)
def test_any_json_is_read_or_refused_in_one_line(config: object) -> None:
    """Whatever JSON a file holds: a description, or an ArchitectureError (never another exception)."""
    try:
        A.architecture_from_config(config if isinstance(config, dict) else {"config": config}, "m.json")
    except A.ArchitectureError as error:
        assert "\n" not in str(error)


_VALUES = (
    st.none() | st.booleans() | st.integers(-2, 9) | st.floats(-2, 2) | st.sampled_from(["same", "relu", "x"])
)


def _layer_mapping(cls: type[A.Layer]) -> st.SearchStrategy[dict]:
    """A mapping for class ``cls`` with any of its own arguments, each any small value."""
    arguments = [f.name for f in dataclasses.fields(cls) if f.name != "name"]
    return st.fixed_dictionaries(
        {"class": st.just(cls.__name__), "name": st.text("abc", min_size=1, max_size=2)},
        optional={key: _VALUES | st.lists(_VALUES, max_size=3) for key in arguments},
    )


_LAYER = st.sampled_from(sorted(set(A.LAYER_CLASSES.values()), key=lambda c: c.__name__)).flatmap(
    _layer_mapping
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_LAYER, min_size=1, max_size=5), st.lists(st.integers(1, 6), min_size=3, max_size=3))
def test_any_layer_mapping_is_read_or_refused_in_one_line(layers: list[dict], shape: list[int]) -> None:
    try:
        arch = A.from_dict({"name": "n", "input_shape": shape, "layers": layers})
    except A.ArchitectureError as error:
        assert "\n" not in str(error)
    else:
        assert A.from_dict(A.to_dict(arch)) == arch
