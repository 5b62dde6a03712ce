"""The DCGAN networks are the tutorial's; the conditional variant, sampling and loading behave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fashionlens.core.errors import InvalidInputError, WeightsNotFoundError
from fashionlens.models.generators.dcgan import (
    DCGANGenerator,
    DCGANSpec,
    build_discriminator,
    build_generator,
    sample_conditions,
    slerp,
)

COND = DCGANSpec(labels=("Tshirts", "Shirts", "other"), colours=("black", "blue", "white", "other"))


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_parameter_counts_are_the_tutorials() -> None:
    # the PyTorch DCGAN tutorial's netG / netD (nz 100, ngf = ndf = 64, nc 3)
    assert n_params(build_generator()) == 3_576_704
    assert n_params(build_discriminator()) == 2_765_568


def test_layers_are_the_tutorials() -> None:
    g, d = build_generator(), build_discriminator()
    g_kinds = [type(m).__name__ for m in g.main]
    assert g_kinds == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 4 + ["ConvTranspose2d", "Tanh"]
    d_kinds = [type(m).__name__ for m in d.main]
    assert d_kinds == ["Conv2d", "LeakyReLU"] + ["Conv2d", "BatchNorm2d", "LeakyReLU"] * 3
    assert all(m.negative_slope == 0.2 for m in d.main if isinstance(m, torch.nn.LeakyReLU))
    assert [m.stride for m in d.main if isinstance(m, torch.nn.Conv2d)] == [(2, 2)] * 4


def test_shapes_and_ranges() -> None:
    torch.manual_seed(0)
    g, d = build_generator(), build_discriminator()
    with torch.no_grad():
        x = g(torch.randn(5, 100, 1, 1))
        assert x.shape == (5, 3, 64, 64)
        assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
        p = d(x)
        assert p.shape == (5,)
        assert float(p.min()) > 0.0 and float(p.max()) < 1.0
        assert g(torch.randn(2, 100)).shape == (2, 3, 64, 64)  # (N, nz) is accepted too


def test_init_is_normal_0_002() -> None:
    torch.manual_seed(0)
    g = build_generator()
    w = g.main[3].weight.detach()
    assert abs(float(w.mean())) < 1e-3
    assert 0.019 < float(w.std()) < 0.021
    bn_w, bn_b = g.main[1].weight.detach(), g.main[1].bias.detach()
    assert 0.015 < float(bn_w.std()) < 0.025 and abs(float(bn_w.mean()) - 1.0) < 0.01
    assert float(bn_b.abs().max()) == 0.0


def test_grey_generator() -> None:
    spec = DCGANSpec(nc=1)
    assert build_generator(spec)(torch.randn(2, 100, 1, 1)).shape == (2, 1, 64, 64)
    assert build_discriminator(spec)(torch.zeros(2, 1, 64, 64)).shape == (2,)


def test_conditional_generator_depends_on_the_condition() -> None:
    torch.manual_seed(0)
    g = build_generator(COND).eval()
    z = torch.randn(4, 100, 1, 1)
    with torch.no_grad():
        a = g(z, torch.tensor([0, 0, 0, 0]), torch.tensor([1, 1, 1, 1]))
        b = g(z, torch.tensor([1, 1, 1, 1]), torch.tensor([1, 1, 1, 1]))
    assert a.shape == (4, 3, 64, 64)
    assert float((a - b).abs().mean()) > 1e-4
    assert g.main[0].in_channels == 100 + 2 * COND.embed_dim
    with pytest.raises(InvalidInputError, match="condition"):
        g(z)


def test_projection_discriminator_reduces_to_the_unconditional_one() -> None:
    torch.manual_seed(0)
    d = build_discriminator(COND).eval()
    plain = build_discriminator().eval()
    plain.main.load_state_dict(d.main.state_dict())
    plain.head.load_state_dict(d.head.state_dict())
    for emb in d.projections:
        torch.nn.init.zeros_(emb.weight)
    x = torch.randn(3, 3, 64, 64)
    y, c = torch.tensor([0, 1, 2]), torch.tensor([3, 2, 1])
    assert torch.allclose(d(x, y, c), plain(x), atol=1e-6)
    # with a projection, the class changes the score by exactly <V[y], sum h>
    torch.nn.init.normal_(d.projections[0].weight)
    h = d.main(x).sum(dim=(2, 3))
    expected = d.head(d.main(x)).view(-1) + (d.projections[0].weight[y] * h).sum(1)
    assert torch.allclose(d.logits(x, y, c), expected, atol=1e-4)


def test_spec_round_trip_and_checks() -> None:
    assert DCGANSpec.from_dict(COND.to_dict()) == COND
    assert not DCGANSpec().conditional and COND.conditional
    assert [a for a, _ in COND.attributes] == ["label", "colour"]
    with pytest.raises(InvalidInputError, match="duplicates"):
        DCGANSpec(labels=("a", "a"))
    with pytest.raises(InvalidInputError, match="nc"):
        DCGANSpec(nc=2)


def test_sample_conditions_follow_the_counts() -> None:
    joint = np.array([[10, 0, 0, 0], [0, 5, 5, 0], [1, 1, 1, 1]])
    rng = np.random.default_rng(0)
    labels, colours = sample_conditions(COND, joint, 400, label="Shirts", rng=rng)
    assert set(labels) == {1} and set(colours) <= {1, 2}
    labels, colours = sample_conditions(COND, joint, 400, colour="BLACK", rng=rng)  # case-insensitive
    assert set(colours) == {0} and set(labels) <= {0, 2}
    labels, colours = sample_conditions(COND, joint, 2000, rng=rng)
    assert 0.37 < np.mean(labels == 0) < 0.47  # 10 of 24 counts
    assert np.mean((labels == 0) & (colours != 0)) == 0.0  # Tshirts only come in black here
    with pytest.raises(InvalidInputError, match="Tshirts, Shirts, other"):
        sample_conditions(COND, joint, 1, label="Dress", rng=rng)
    with pytest.raises(InvalidInputError, match="not conditioned"):
        sample_conditions(DCGANSpec(), None, 1, label="Tshirts", rng=rng)


def test_slerp_ends_and_norm() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 100))
    assert np.allclose(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)
    mid = slerp(a, b, 0.5)
    assert 0.8 * np.linalg.norm(a) < np.linalg.norm(mid) < 1.2 * np.linalg.norm(b)


def _export(tmp_path: Path, spec: DCGANSpec) -> Path:
    torch.manual_seed(0)
    g = build_generator(spec)
    path = tmp_path / "gen.pt"
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in g.state_dict().items()}
    torch.save({"format": "fashionlens-dcgan/1", "spec": spec.to_dict(), "generator": state}, path)
    return path


def test_generator_file_generates_deterministically(tmp_path: Path) -> None:
    gen = DCGANGenerator(_export(tmp_path, COND))
    a, names = gen.generate(6, label="Tshirts", seed=3)
    b, _ = gen.generate(6, label="Tshirts", seed=3)
    c, _ = gen.generate(6, label="Tshirts", seed=4)
    assert a.shape == (6, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert all(n[0] == "Tshirts" for n in names)
    strip = gen.interpolate(5, colour="blue", seed=1)
    assert strip.shape == (5, 64, 64, 3)
    # neighbouring frames of a latent walk are closer than its two ends
    step = np.abs(strip[1].astype(int) - strip[0]).mean()
    assert step < np.abs(strip[4].astype(int) - strip[0]).mean()


def test_generator_file_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        DCGANGenerator(tmp_path / "missing.pt").setup()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InvalidInputError, match=r"junk\.pt"):
        DCGANGenerator(junk).setup()
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(InvalidInputError, match="not a DCGAN generator file"):
        DCGANGenerator(other).setup()
    unconditional = DCGANGenerator(_export(tmp_path, DCGANSpec()))
    with pytest.raises(InvalidInputError, match="not conditioned"):
        unconditional.generate(2, label="Tshirts")
    with pytest.raises(InvalidInputError, match="n must be"):
        unconditional.generate(0)
