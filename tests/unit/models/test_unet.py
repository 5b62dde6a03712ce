"""U-Net segmenter on random init: shapes, loss, letterboxing, predict() at original size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fashionlens.core.errors import InvalidInputError, WeightsNotFoundError
from fashionlens.core.segmentation import seg_classes
from fashionlens.models.segmenters.unet import (
    UNetSegmenter,
    balanced_pos_weight,
    build_unet,
    dice_bce_loss,
    letterbox_geometry,
    letterbox_mask,
)

NUM_CLASSES = len(seg_classes())


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def random_segmenter() -> UNetSegmenter:
    seg = UNetSegmenter(weights=None, input_hw=(96, 64), batch_size=2)
    seg.setup()
    return seg


@pytest.mark.parametrize("hw", [(96, 64), (100, 70), (33, 47)])
def test_forward_shape_on_random_init(hw: tuple[int, int]) -> None:
    model = build_unet().eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, *hw))
    assert out.shape == (2, NUM_CLASSES, *hw)
    assert torch.isfinite(out).all()


def test_loss_is_finite_and_decreases_on_a_tiny_batch() -> None:
    torch.manual_seed(0)
    model = build_unet().train()
    x = torch.randn(2, 3, 64, 64)
    y = torch.zeros(2, 64, 64, dtype=torch.long)
    y[:, 16:48, 20:44] = 1  # a "person"
    y[:, 20:36, 24:40] = 10  # a "top" on it
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = dice_bce_loss(model(x), y)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.85 * losses[0], losses


def test_loss_accepts_one_hot_and_rejects_bad_shapes() -> None:
    logits = torch.randn(1, NUM_CLASSES, 8, 8)
    idx = torch.randint(0, NUM_CLASSES, (1, 8, 8))
    onehot = torch.nn.functional.one_hot(idx, NUM_CLASSES).permute(0, 3, 1, 2).float()
    assert torch.allclose(dice_bce_loss(logits, idx), dice_bce_loss(logits, onehot))
    # a perfect prediction scores lower than a random one
    perfect = (onehot * 20 - 10).float()
    assert dice_bce_loss(perfect, idx) < dice_bce_loss(logits, idx)
    with pytest.raises(InvalidInputError, match="target"):
        dice_bce_loss(logits, idx[:, :4])


@pytest.mark.parametrize(
    ("size_hw", "expected"),
    [
        ((832, 550), (0, 1, 384, 254)),  # CCP: 2:3 portrait nearly fills (384, 256)
        ((100, 300), (149, 0, 85, 256)),  # landscape: padded top and bottom
        ((384, 256), (0, 0, 384, 256)),
        ((1000, 100), (0, 109, 384, 38)),  # very tall: padded left and right
    ],
)
def test_letterbox_keeps_aspect(size_hw: tuple[int, int], expected: tuple[int, int, int, int]) -> None:
    assert letterbox_geometry(size_hw, (384, 256)) == expected


def test_letterbox_mask_is_nearest() -> None:
    mask = np.zeros((30, 20), np.uint8)
    mask[10:20] = 7
    out = letterbox_mask(mask, (60, 60))
    assert set(np.unique(out).tolist()) == {0, 7}
    assert out.shape == (60, 60)


@pytest.mark.parametrize("shape", [(97, 61, 3), (40, 130, 3), (55, 55), (64, 48, 1), (31, 29, 4)])
def test_predict_returns_original_size(random_segmenter: UNetSegmenter, shape: tuple[int, ...]) -> None:
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    [(seg, conf)] = random_segmenter.predict([image])
    assert seg.shape == shape[:2] and seg.dtype == np.uint8
    assert conf.shape == shape[:2] and conf.dtype == np.float32
    assert seg.max() < NUM_CLASSES
    assert np.all((conf >= 0) & (conf <= 1))


def test_predict_batches_mixed_sizes_and_grayscale(random_segmenter: UNetSegmenter) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(70, 45, 3), dtype=np.uint8)
    grey = rgb.mean(axis=2).astype(np.uint8)
    images = [rgb, grey, np.repeat(grey[:, :, None], 3, axis=2), rng.integers(0, 256, (20, 90, 3), np.uint8)]
    out = random_segmenter.predict(images)  # batch_size=2 -> two batches
    assert [s.shape for s, _ in out] == [(70, 45), (70, 45), (70, 45), (20, 90)]
    # a grayscale (H, W) image is the same as its 3-channel copy
    np.testing.assert_array_equal(out[1][0], out[2][0])
    np.testing.assert_allclose(out[1][1], out[2][1], atol=1e-5)
    assert random_segmenter.predict([]) == []


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8), np.zeros((0, 5, 3), np.uint8)]
)
def test_predict_rejects_bad_images(random_segmenter: UNetSegmenter, bad: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        random_segmenter.predict([bad])


def test_missing_weights_file_names_the_command(tmp_path: Path) -> None:
    seg = UNetSegmenter(weights=tmp_path / "nope.pt")
    with pytest.raises(WeightsNotFoundError, match="segment train-unet"):
        seg.setup()


def test_construction_is_cheap_and_lazy() -> None:
    seg = UNetSegmenter(weights="/does/not/exist.pt", num_threads=1)
    assert seg.model_id == "unet_mobilenet_v2.ccp"
    assert seg._model is None  # nothing loaded until setup()/predict()


def test_checkpoint_round_trip_fp16(tmp_path: Path) -> None:
    model = build_unet()
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    path = tmp_path / "u.pt"
    torch.save({"model": half, "config": {"input_hw": [64, 64]}}, path)
    seg = UNetSegmenter(weights=path)
    seg.setup()
    assert seg.input_hw == (64, 64)
    assert seg.weights_path == path
    [(out, _)] = seg.predict([np.zeros((50, 40, 3), np.uint8)])
    assert out.shape == (50, 40)


def test_fold_batchnorm_is_exact() -> None:
    from fashionlens.models.segmenters.unet import fold_batchnorm

    model = build_unet().eval()
    gen = torch.Generator().manual_seed(0)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):  # non-trivial statistics
            mod.running_mean.normal_(generator=gen)
            mod.running_var.uniform_(0.5, 2.0, generator=gen)
    x = torch.randn(1, 3, 64, 48, generator=gen)
    with torch.inference_mode():
        ref = model(x)
        folded = fold_batchnorm(model)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        torch.testing.assert_close(folded(x), ref, atol=1e-4, rtol=1e-4)


def test_augmentation_moves_image_and_mask_together() -> None:
    from fashionlens.training.unet import augment_batch

    h, w = 96, 64
    mask = torch.zeros(4, h, w, dtype=torch.long)
    mask[:, 20:70, 10:30] = 5  # an off-centre block, so flips and rotations move it
    image = torch.full((4, 3, h, w), -1.5)
    image[mask[:, None].expand(-1, 3, -1, -1) == 5] = 1.5  # grey: bright where the mask is set
    x, y = augment_batch(image, mask, torch.Generator().manual_seed(3))
    assert x.shape == image.shape and y.shape == mask.shape and y.dtype == torch.long
    assert set(torch.unique(y).tolist()) <= {0, 5}
    moved = False
    for i in range(4):
        inside, outside = x[i, 0][y[i] == 5], x[i, 0][(y[i] == 0) & (x[i, 0] != 0)]
        assert inside.numel() > 500
        # away from the blurred edges, the bright pixels are exactly the masked ones
        assert (inside > 0).float().mean() > 0.95
        assert (outside < 0).float().mean() > 0.95
        moved |= not torch.equal(y[i], mask[i])
    assert moved


@pytest.mark.parametrize(
    ("size_hw", "expected"),
    [
        ((840, 560), [(0, 560)]),  # the input's own aspect: one tile
        ((840, 700), [(0, 700)]),  # a little wider: still one (letterboxed)
        ((840, 1120), [(0, 560), (280, 840), (560, 1120)]),  # two people side by side: 3 tiles, 50% overlap
        ((432, 768), [(0, 288), (160, 448), (320, 608), (480, 768)]),  # a 16:9 video frame
    ],
)
def test_tiles_cover_wide_images_at_the_input_aspect(size_hw: tuple[int, int], expected: list) -> None:
    from fashionlens.models.segmenters.unet import tiles_x

    tiles = tiles_x(size_hw, (336, 224))
    assert tiles == expected
    assert tiles[0][0] == 0 and tiles[-1][1] == size_hw[1]


def test_wide_image_prediction_is_tiled_and_full_size(random_segmenter: UNetSegmenter) -> None:
    wide = np.random.default_rng(0).integers(0, 255, (100, 400, 3), dtype=np.uint8)
    seg, conf = random_segmenter.predict([wide])[0]
    assert seg.shape == (100, 400) and conf.shape == (100, 400)
    assert np.isfinite(conf).all()


def test_tile_weights_fade_only_at_inner_edges() -> None:
    from fashionlens.models.segmenters.unet import tile_weights

    left = tile_weights(0, 8, 20)  # image's left edge: full weight there, fades to the right
    assert left[0] == 1.0 and left[-1] < 0.6 and (np.diff(left) <= 0).all()
    middle = tile_weights(6, 8, 20)
    assert middle[0] < 0.6 and middle[-1] < 0.6 and middle[3] == 1.0
    assert (tile_weights(0, 8, 8) == 1.0).all()  # a single tile is not faded


def test_big_photos_are_segmented_at_working_size(random_segmenter: UNetSegmenter) -> None:
    """A photo over ``max_work_pixels`` gives maps at its own size, computed at the working size
    (the same result as shrinking it first), so memory is bounded whatever the photo's size."""
    from PIL import Image

    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (300, 200, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(small).resize((2000, 3000), Image.Resampling.NEAREST))
    random_segmenter.max_work_pixels = 300 * 200
    (seg, conf), (seg_small, _) = random_segmenter.predict([big, small])
    assert seg.shape == conf.shape == (3000, 2000) and seg.dtype == np.uint8
    shrunk = np.asarray(Image.fromarray(seg).resize((200, 300), Image.Resampling.NEAREST))
    assert (shrunk == seg_small).mean() > 0.9  # the big photo was seen at about the small one's size


def test_balanced_weights_lift_rare_classes_and_leave_absent_ones() -> None:
    masks = np.zeros((2, 10, 10), np.uint8)
    masks[:, :5] = 1  # half the pixels: class 1
    masks[0, 9, 9] = 3  # one pixel: class 3 (rare); class 2 absent
    w = balanced_pos_weight(masks, 4)
    assert w.dtype == np.float32 and w.shape == (4,)
    assert w[3] > w[0] >= 1.0 and w[2] == 1.0  # rarer -> heavier; absent -> 1
    assert w.max() <= 50.0
    with pytest.raises(InvalidInputError, match="no labelled pixel"):
        balanced_pos_weight(np.zeros((0, 4, 4), np.uint8), 4)
    logits = torch.zeros(2, 4, 10, 10)
    plain = dice_bce_loss(logits, torch.from_numpy(masks).long())
    weighted = dice_bce_loss(logits, torch.from_numpy(masks).long(), pos_weight=torch.from_numpy(w))
    assert float(weighted) > float(plain)  # the rare pixels now count more


def test_flip_averages_the_mirrored_logits(random_segmenter: UNetSegmenter) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 60, 3), dtype=np.uint8)
    plain = random_segmenter.predict([image])[0][1]
    random_segmenter.flip = True
    try:
        flipped = random_segmenter.predict([image])[0][1]
        mirrored = random_segmenter.predict([image[:, ::-1].copy()])[0][1]
    finally:
        random_segmenter.flip = False
    assert not np.allclose(plain, flipped)  # the flip changed something
    np.testing.assert_allclose(flipped, mirrored[:, ::-1], atol=1e-4)  # and is mirror-symmetric


def test_repeat_factors_favour_photos_of_rare_classes() -> None:
    from fashionlens.training.unet import repeat_factors

    classes = seg_classes()
    belt, pants, person = classes.index("belt"), classes.index("pants"), classes.index("person")
    masks = np.zeros((10, 8, 8), dtype=np.uint8)
    masks[:, :4] = person  # everyone: never oversampled
    masks[:, 4:] = pants  # every photo: share 1, factor 1
    masks[0, 0, 0] = belt  # one photo in ten: sqrt(0.3 / 0.1)
    per_photo, per_class = repeat_factors(masks, threshold=0.3)
    assert per_class[belt] == pytest.approx(np.sqrt(3.0))
    assert per_class[pants] == per_class[person] == 1.0
    assert per_photo[0] == pytest.approx(np.sqrt(3.0)) and (per_photo[1:] == 1.0).all()
    with pytest.raises(InvalidInputError, match="threshold"):
        repeat_factors(masks, threshold=0.0)


def test_rare_crop_centres_the_rarest_class_and_stays_inside() -> None:
    from fashionlens.training.unet import rare_crop

    classes = seg_classes()
    belt, top = classes.index("belt"), classes.index("top")
    per_class = np.ones(len(classes))
    per_class[belt], per_class[top] = 3.0, 1.5
    image = np.arange(64 * 48 * 3, dtype=np.uint32).reshape(64, 48, 3).astype(np.uint8)
    mask = np.zeros((64, 48), dtype=np.uint8)
    mask[10:40, 5:40] = top
    mask[60:62, 44:47] = belt  # in a corner: the window is clipped to the photo
    rng = np.random.default_rng(0)
    crop, crop_mask = rare_crop(image, mask, per_class, (32, 24), rng)
    assert crop.shape == (32, 24, 3) and crop_mask.shape == (32, 24)
    assert (crop_mask == belt).sum() == 6  # the whole belt is in the window
    assert np.array_equal(crop, image[32:64, 24:48])
    plain = np.zeros_like(mask)  # nothing rare: the centre
    _, centre = rare_crop(image, plain, per_class, (32, 24), rng)
    assert centre.shape == (32, 24)
    with pytest.raises(InvalidInputError, match="smaller than the window"):
        rare_crop(image, mask, per_class, (80, 24), rng)
