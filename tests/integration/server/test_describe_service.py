"""`fashionlens.services.describe` on the shipped models, without HTTP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory):
    from fashionlens.core.settings import Settings
    from fashionlens.models import factory
    from fashionlens.services.describe import AttributePredictor

    settings = Settings(home=tmp_path_factory.mktemp("describe") / "home")
    backbone = factory.backbone(settings)
    return AttributePredictor(backbone, factory.attribute_classifier(settings, backbone.model_id))


def test_one_image_at_a_time_equals_the_whole_batch(predictor, shared_data: Path) -> None:
    from fashionlens.ingest.images import open_rgb
    from fashionlens.services.describe import AttributePredictor

    files = sorted((shared_data / "products" / "images").glob("*.jpg"))[:6]
    images = [open_rgb(f) for f in files]
    whole = predictor.predict(images)
    single = AttributePredictor(predictor.backbone, predictor.classifier, chunk=1).predict(images)
    assert [a.predictions for a in whole] == [a.predictions for a in single]
    assert np.allclose(np.stack([a.vector for a in whole]), np.stack([a.vector for a in single]), atol=1e-5)
    assert all(set(a.confidences) == set(predictor.heads) for a in whole)
    assert predictor.predict([]) == []


def test_street_photo_description_without_a_detector(predictor, shared_data: Path) -> None:
    from fashionlens.core.settings import Settings
    from fashionlens.ingest.images import open_rgb
    from fashionlens.models import factory
    from fashionlens.services.describe import DescribeOptions, Describer

    unet = factory.unet(Settings())
    describer = Describer(lambda im: predictor.predict([im])[0], unet)
    photo = open_rgb(shared_data / "ccp" / "photos" / "0002.jpg")
    result = describer.describe(photo, DescribeOptions(overlay=False))
    assert result.overlay_png is None
    assert len(result.people) == 1 and result.category_source == "garments"
    assert {g.person for g in result.garments} == {0}
    assert result.garments[0].colours and result.garments[0].mask_rle is not None
    tiny = describer.describe(photo.resize((20, 30)))
    assert tiny.people == [] and tiny.category_source in ("articleType", "none")
    with pytest.raises(InvalidInputError):
        DescribeOptions(colours_k=0)
