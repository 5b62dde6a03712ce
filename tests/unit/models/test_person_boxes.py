"""Box helpers of the person detector: IoU, NMS, padding, clipping, the `PersonBoxes` container."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.models.segmenters.person_detector import (
    HogPersonDetector,
    PersonBoxes,
    box_iou,
    clip_boxes_xyxy,
    nms_xyxy,
    pad_xyxy,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0),  # touching edges
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100),  # contained
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # zero area: no division by zero
    ],
)
def test_box_iou(a: tuple, b: tuple, expected: float) -> None:
    assert box_iou([a], [b])[0, 0] == pytest.approx(expected, abs=1e-6)


def test_box_iou_is_pairwise() -> None:
    out = box_iou([(0, 0, 10, 10), (0, 0, 5, 5)], [(0, 0, 10, 10), (0, 0, 5, 5), (50, 50, 60, 60)])
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[:, 2], 0.0)
    assert out[1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("boxes", "scores", "threshold", "expected"),
    [
        ([], [], 0.3, []),
        ([(0, 0, 10, 10)], [0.5], 0.3, [0]),
        # two near-duplicates: the higher score wins
        ([(0, 0, 10, 10), (1, 0, 11, 10)], [0.4, 0.9], 0.3, [1]),
        # disjoint boxes all survive, highest score first
        ([(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)], [0.1, 0.3, 0.2], 0.3, [1, 2, 0]),
        # IoU 1/3 exactly: kept at threshold 0.5, suppressed at 0.3
        ([(0, 0, 10, 10), (5, 0, 15, 10)], [0.9, 0.8], 0.5, [0, 1]),
        ([(0, 0, 10, 10), (5, 0, 15, 10)], [0.9, 0.8], 0.3, [0]),
        # a chain: A suppresses B, B would have suppressed C, but C survives because B is gone
        ([(0, 0, 10, 10), (6, 0, 16, 10), (12, 0, 22, 10)], [0.9, 0.8, 0.7], 0.2, [0, 2]),
        # equal scores: the earlier box is kept
        ([(0, 0, 10, 10), (0, 0, 10, 10)], [0.5, 0.5], 0.3, [0]),
    ],
)
def test_nms(boxes: list, scores: list, threshold: float, expected: list) -> None:
    assert nms_xyxy(boxes, scores, threshold).tolist() == expected


@pytest.mark.parametrize(
    ("boxes", "scores", "threshold"),
    [
        ([(0, 0, 10, 10)], [0.1, 0.2], 0.3),  # count mismatch
        ([(0, 0, 10)], [0.1], 0.3),  # not (N, 4)
        ([(0, 0, 10, 10)], [0.1], 1.5),  # threshold out of range
    ],
)
def test_nms_rejects_bad_input(boxes: list, scores: list, threshold: float) -> None:
    with pytest.raises(InvalidInputError):
        nms_xyxy(boxes, scores, threshold)


@pytest.mark.parametrize(
    ("box", "frac", "size_wh", "expected"),
    [
        ((100, 100, 200, 300), 0.0, (768, 432), (100, 100, 200, 300)),
        ((100, 100, 200, 300), 0.1, (768, 432), (90, 80, 210, 320)),
        ((5, 10, 105, 210), 0.1, (768, 432), (0, 0, 115, 230)),  # clipped at the top-left
        ((700, 300, 760, 430), 0.25, (768, 432), (685, 267.5, 768, 432)),  # clipped at the bottom-right
        ((0, 0, 768, 432), 0.5, (768, 432), (0, 0, 768, 432)),  # the whole frame stays the frame
    ],
)
def test_pad_xyxy(box: tuple, frac: float, size_wh: tuple, expected: tuple) -> None:
    out = pad_xyxy([box], frac, *size_wh)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out[0], expected, atol=1e-4)


def test_pad_rejects_negative_fraction() -> None:
    with pytest.raises(InvalidInputError, match="padding fraction"):
        pad_xyxy([(0, 0, 10, 10)], -0.1, 100, 100)


@pytest.mark.parametrize(
    ("box", "size_wh", "expected"),
    [
        ((10, 20, 30, 40), (100, 100), (10, 20, 30, 40)),
        ((-10, -5, 50, 60), (100, 100), (0, 0, 50, 60)),
        ((90, 90, 150, 120), (100, 100), (90, 90, 100, 100)),
        ((120, 120, 150, 150), (100, 100), (100, 100, 100, 100)),  # fully outside: zero area
        ((-30, 10, -5, 20), (100, 100), (0, 10, 0, 20)),
    ],
)
def test_clip_boxes(box: tuple, size_wh: tuple, expected: tuple) -> None:
    out = clip_boxes_xyxy([box], *size_wh)
    np.testing.assert_allclose(out[0], expected)
    assert (out[:, 2] >= out[:, 0]).all() and (out[:, 3] >= out[:, 1]).all()


def test_person_boxes_container() -> None:
    boxes = PersonBoxes(
        np.array([[0, 0, 10, 20], [5, 5, 15, 25]], np.float32), np.array([0.9, 0.2], np.float32)
    )
    assert len(boxes) == 2
    kept = boxes[boxes.scores > 0.5]
    assert len(kept) == 1 and kept.xyxy.tolist() == [[0, 0, 10, 20]]
    assert len(PersonBoxes.empty()) == 0


@pytest.mark.parametrize(
    ("xyxy", "scores", "message"),
    [
        (np.zeros((2, 3), np.float32), np.zeros(2, np.float32), r"shape \(N, 4\)"),
        (np.zeros((2, 4), np.float32), np.zeros(3, np.float32), r"scores must be .* shape \(2,\)"),
        (np.zeros((1, 4), np.float64), np.zeros(1, np.float32), "float32"),
        (np.array([[10, 0, 5, 5]], np.float32), np.zeros(1, np.float32), "x2 >= x1"),
    ],
)
def test_person_boxes_validation(xyxy: np.ndarray, scores: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        PersonBoxes(xyxy, scores)


def test_hog_finds_nobody_on_a_blank_frame_and_checks_its_input() -> None:
    detector = HogPersonDetector()
    assert detector.work_height == 192
    assert len(detector.detect(np.full((432, 768, 3), 200, np.uint8))) == 0
    with pytest.raises(InvalidInputError, match="uint8"):
        detector.detect(np.zeros((432, 768), np.uint8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_height_frac": 0.0},
        {"win_stride": 0},
        {"scale": 1.0},
        {"border_frac": -1},
        {"tighten_xy": (0.5, 0)},
    ],
)
def test_hog_rejects_bad_settings(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        HogPersonDetector(**kwargs)


def test_hog_window_to_person_box() -> None:
    """A 64x128 window at the working scale maps back to the person inside it, in frame pixels."""
    detector = HogPersonDetector(min_height_frac=0.5, border_frac=0.0, tighten_xy=(0.25, 0.125))
    s = detector.work_height / 432  # frame 432 px tall -> 192 px
    out = detector._to_frame(
        np.array([[10, 20, 64, 128]], np.float32), np.array([1.0], np.float32), s, 0, 768, 432
    )
    np.testing.assert_allclose(
        out.xyxy[0], [(10 + 16) / s, (20 + 16) / s, (10 + 48) / s, (20 + 112) / s], rtol=1e-5
    )
