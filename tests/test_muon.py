"""``MuonSGD`` (Muon on the weight matrices, SGD on the rest) in PyTorch and Keras, and that they agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sepconv.compat import import_tensorflow
from sepconv.muon import NS_STEPS, muon_weights
from sepconv.recipes import RecipeError, load_recipe
from sepconv_torch import SepConvLitModule, build_model
from sepconv_torch.optim import MuonSGD, newton_schulz, split_parameters

MATRICES = [
    "conv1.weight",
    *(f"sepconv{i}.conv_pw.weight" for i in range(1, 6)),
    "dense1.weight",
    "dense2.weight",
]


@pytest.mark.parametrize("shape", [(32, 9), (64, 32), (128, 128), (128, 1152), (10, 128)])
def test_newton_schulz_flattens_the_spectrum(shape: tuple[int, int]) -> None:
    gen = torch.Generator().manual_seed(0)
    k = min(shape)
    u, _ = torch.linalg.qr(torch.randn(shape[0], k, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(shape[1], k, generator=gen, dtype=torch.float64))
    g = (u * torch.logspace(-1, 0, k, dtype=torch.float64)) @ v.T * 7.0  # singular values 0.7 ... 7
    out = newton_schulz(g.float())
    s = torch.linalg.svdvals(out.double())
    assert out.shape == g.shape
    # Muon's quintic drives singular values within a decade of the largest into about [0.7, 1.2] in five
    # steps; the ratio 10 in becomes under 2 out
    assert s.min() > 0.6 and s.max() < 1.25, (s.min(), s.max())


@pytest.mark.parametrize("shape", [(128, 1152), (10, 128), (1152, 128), (64, 64)])
def test_gram_form_is_the_same_iteration(shape: tuple[int, int]) -> None:
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    direct, gram = newton_schulz(g, gram_form=False), newton_schulz(g, gram_form=True)
    assert (direct - gram).abs().max() <= 1e-12


def test_split_parameters_follows_the_spec() -> None:
    net = build_model(seed=0)
    matrices, others = split_parameters(net)
    names = {id(p): n for n, p in net.named_parameters()}
    assert [names[id(p)] for p in matrices] == MATRICES
    assert all(".conv_dw." in names[id(p)] or names[id(p)].endswith("bias") for p in others)
    assert len(matrices) + len(others) == len(list(net.parameters()))
    assert set(muon_weights()) == {n.split(".")[0] for n in MATRICES}


def test_split_parameters_refuses_a_network_without_spec() -> None:
    with pytest.raises(ValueError, match=r"model\.optimizer=muon needs a network built from a layer spec"):
        split_parameters(torch.nn.Linear(3, 2))


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_the_sgd_group_is_torch_sgd(momentum: float, nesterov: bool) -> None:
    """The SGD group (depthwise kernels and biases) steps bit for bit as ``torch.optim.SGD``."""
    ours, ref = build_model(seed=0), build_model(seed=0)
    opt = MuonSGD([], ours.parameters(), lr=0.1, momentum=momentum, nesterov=nesterov)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=momentum, nesterov=nesterov)
    for step in range(3):
        x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(step))
        y = torch.arange(8) % 10
        for net, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            F.cross_entropy(net(x), y).backward()
            o.step()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_a_muon_step_has_the_scaled_orthogonal_size() -> None:
    net = build_model(seed=0)
    opt = MuonSGD(*split_parameters(net), lr=0.1, muon_lr=0.02, muon_momentum=0.0)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    F.cross_entropy(net(torch.randn(32, 1, 28, 28)), torch.arange(32) % 10).backward()
    opt.step()
    for name in MATRICES:
        p = dict(net.named_parameters())[name]
        step = (before[name] - p.detach()).reshape(len(p), -1) / 0.02
        fan_out, fan_in = step.shape
        s = torch.linalg.svdvals(step) / max(1.0, fan_out / fan_in) ** 0.5
        # the orthogonalised update, not the raw gradient (whose scale is far smaller, spectrum wider): its
        # leading singular values (a gradient has rank <= 9 here at the least) all lie near 1
        assert s.max() < 1.25 and s[:8].min() > 0.6, (name, s)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_lit_module_builds_muon_with_its_schedule() -> None:
    module = SepConvLitModule(optimizer="muon", lr=0.1, muon_lr=0.03, schedule="cosine", warmup_epochs=0.5)

    class _Trainer:
        estimated_stepping_batches = 40
        max_epochs = 2

    module.trainer = _Trainer()  # type: ignore[assignment]  # configure_optimizers reads these two only
    config = module.configure_optimizers()
    opt = config["optimizer"]
    assert isinstance(opt, MuonSGD)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]  # warm-up starts at 0 for both groups
    scheduler = config["lr_scheduler"]["scheduler"]
    for _ in range(10):
        scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.03, 0.1])  # the end of the warm-up


def test_optimizer_state_round_trips() -> None:
    net = build_model(seed=0)
    opt = MuonSGD(*split_parameters(net), lr=0.1, momentum=0.9, nesterov=True)
    F.cross_entropy(net(torch.randn(4, 1, 28, 28)), torch.arange(4)).backward()
    opt.step()
    again = MuonSGD(*split_parameters(net), lr=0.1, momentum=0.9, nesterov=True)
    again.load_state_dict(opt.state_dict())
    assert all(
        torch.equal(again.state[p]["momentum_buffer"], opt.state[p]["momentum_buffer"])
        for p in net.parameters()
    )


@pytest.mark.parametrize("key, value", [("optimizer", "adam"), ("muon_lr", 0.0), ("muon_momentum", 1.0)])
def test_recipe_keys_are_checked(key: str, value: object) -> None:
    with pytest.raises(RecipeError, match=f"{key} must be"):
        SepConvLitModule(**{key: value})


def test_fast_recipe_uses_muon() -> None:
    recipe = load_recipe("fast")
    assert recipe.optimizer == "muon"


# ----------------------------------------------------------------------------- Keras against PyTorch


def _keras_steps(model, batches, optimizer):  # type: ignore[no-untyped-def]
    tf = import_tensorflow()
    import keras

    for x, y in batches:
        with tf.GradientTape() as tape:
            probs = model(tf.constant(x.permute(0, 2, 3, 1).numpy()), training=True)
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(tf.constant(y.numpy()), probs))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))


@pytest.mark.parametrize("broken", [None, "momentum", "ratio"])
def test_keras_muon_matches_torch(broken: str | None) -> None:
    """Three steps in float64 from the same weights on the same batches land on the same weights.

    ``broken`` shows the comparison catching a port that differs: Keras' own SGD momentum form (the
    learning rate inside the buffer, ``nesterov`` off), or a Muon rate off by 1 %.
    """
    import_tensorflow()
    from parity.converter import keras_copy, torch_copy
    from sepconv_keras.optim import MuonSGD as KerasMuonSGD

    net = build_model(seed=0).double()
    model = keras_copy(net)
    # rates exact in float32, where Keras keeps its learning rate
    lr, muon_lr, momentum = 0.0625, 0.03125, 0.5
    opt = MuonSGD(*split_parameters(net), lr=lr, momentum=momentum, nesterov=True, muon_lr=muon_lr)
    kopt = KerasMuonSGD(
        lr,
        momentum=momentum,
        nesterov=broken != "momentum",
        muon_lr_ratio=muon_lr / lr * (1.01 if broken == "ratio" else 1.0),
    )
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(16, 1, 28, 28, generator=gen, dtype=torch.float64), torch.arange(16) % 10)]
    batches += [(torch.randn(16, 1, 28, 28, generator=gen, dtype=torch.float64), torch.arange(16) % 7)] * 2
    for x, y in batches:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    _keras_steps(model, batches, kopt)
    after = torch_copy(model).state_dict()
    diff = max((after[k] - v).abs().max().item() for k, v in net.state_dict().items())
    start = build_model(seed=0).double().state_dict()
    moved = max((v - start[k]).abs().max().item() for k, v in after.items())
    assert moved > 1e-3  # the steps did something
    if broken is None:
        assert diff <= 1e-10, diff
    else:
        assert diff > 1e-6, diff


def test_keras_muon_picks_the_matrices() -> None:
    import_tensorflow()
    from sepconv_keras import build_model as keras_model
    from sepconv_keras.optim import MuonSGD as KerasMuonSGD

    model = keras_model()
    opt = KerasMuonSGD()
    picked = [v.path.split("/", 1)[1] for v in model.trainable_variables if opt.is_matrix(v)]
    assert picked == [
        "conv1/kernel",
        *(f"sepconv{i}/pointwise_kernel" for i in range(1, 6)),
        "dense1/kernel",
        "dense2/kernel",
    ]
    assert NS_STEPS == 5 and np.isclose(KerasMuonSGD.from_config(opt.get_config()).muon_lr_ratio, 2.0)


def test_keras_muon_state_survives_save_and_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A saved ``.keras`` model restores MuonSGD with its momentum buffers (what a resume relies on)."""
    import_tensorflow()
    import keras

    from sepconv_keras import build_model as keras_model
    from sepconv_keras.optim import MuonSGD as KerasMuonSGD

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 28, 28, 1)).astype("float32"), np.arange(32) % 10
    model = keras_model(seed=0)
    model.compile(
        optimizer=KerasMuonSGD(0.1, momentum=0.9, nesterov=True), loss="sparse_categorical_crossentropy"
    )
    for _ in range(2):
        model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, KerasMuonSGD) and loaded.optimizer.nesterov
    before = [v.numpy() for v in model.optimizer.variables]
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, loaded.optimizer.variables, strict=True))
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True))
