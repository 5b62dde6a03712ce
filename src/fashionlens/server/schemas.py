"""Every request and response model of the HTTP API (pydantic), in one module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorResponse(BaseModel):
    status: Literal["error"] = "error"
    error: str = Field(description="What went wrong, in one line.")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can return."""
    descriptions = {
        400: "A body that cannot be parsed, or a value the library cannot use.",
        401: "Missing or wrong X-API-Key (only when FASHIONLENS_API_KEY is set).",
        404: "No such image or job.",
        409: "An earlier step has not run (no embeddings, no search index, job not finished).",
        413: "Upload over the byte limit, or an image with too many pixels (refused before decoding).",
        415: "The content is not an image (or video): sniffed from the bytes, not the name.",
        422: "The request does not match the schema, or the image cannot be decoded.",
        503: "A model the route needs is still loading, failed, or is not installed.",
        504: "The model call took longer than the request timeout.",
    }
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}


# -- health -----------------------------------------------------------------------------------


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class ModelStatus(BaseModel):
    state: Literal["loading", "ready", "failed", "absent"]
    model_id: str = ""
    seconds: float = 0.0
    error: str = ""


class ReadyResponse(BaseModel):
    status: Literal["ready", "loading", "failed"]
    loading: list[str] = Field(default_factory=list, description="Models still loading.")
    failed: dict[str, str] = Field(default_factory=dict, description="Models that failed, with why.")
    models: dict[str, ModelStatus]


class ModelsResponse(BaseModel):
    status: Literal["success"] = "success"
    models: dict[str, ModelStatus]
    image_model_id: str
    text_model_id: str
    runtime: str
    batching: dict[str, float]
    maskrcnn: bool = Field(description="Whether a Mask R-CNN checkpoint is loaded (webcam side by side).")
    api_key_required: bool


# -- seed routes ------------------------------------------------------------------------------


class PredictResponse(BaseModel):
    predictions: dict[str, str] = Field(
        description="Label per attribute head: articleType, baseColour (colour group), season, gender, usage."
    )
    confidences: dict[str, float]
    status: Literal["success"] = "success"


class Base64Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="The image file's bytes, base64 (a data: URL prefix is allowed).")


# -- describe / colour / segment / zero-shot --------------------------------------------------


class Rle(BaseModel):
    size: list[int] = Field(description="[height, width]")
    counts: list[int] = Field(description="COCO uncompressed RLE, column-major, starting with zeros.")


class ColourOut(BaseModel):
    name: str
    share: float
    hex: str
    rgb: list[int]


class PersonOut(BaseModel):
    index: int
    box_xyxy: list[float]
    score: float
    area: int
    mask_rle: Rle | None = None


class GarmentOut(BaseModel):
    index: int
    category: str
    score: float
    box_xyxy: list[float]
    area: int
    person: int | None = None
    colours: list[ColourOut]
    mask_rle: Rle | None = None


class DescribeResponse(BaseModel):
    status: Literal["success"] = "success"
    width: int
    height: int
    predictions: dict[str, str]
    confidences: dict[str, float]
    classifier_id: str
    model_id: str
    colours: list[ColourOut]
    category: str
    category_source: Literal["garments", "articleType", "none"]
    people: list[PersonOut]
    garments: list[GarmentOut]
    segmenter_id: str
    overlay_png: str | None = Field(None, description="Base64 PNG: garments tinted, people outlined.")
    seconds: dict[str, float]


class ColourResponse(BaseModel):
    status: Literal["success"] = "success"
    width: int
    height: int
    colours: list[ColourOut]


class SegmentResponse(BaseModel):
    status: Literal["success"] = "success"
    width: int
    height: int
    segmenter_id: str
    people: list[PersonOut]
    garments: list[GarmentOut]
    seconds: float


class LabelScore(BaseModel):
    label: str
    score: float


class ZeroShotResponse(BaseModel):
    status: Literal["success"] = "success"
    model_id: str
    template: str
    labels: list[LabelScore]


# -- search and catalogue ---------------------------------------------------------------------


class Hit(BaseModel):
    rank: int
    image_id: str
    score: float
    source: str
    split: str
    category: str
    colour: str
    article_type: str
    image_url: str
    thumbnail_url: str


class SearchResponse(BaseModel):
    status: Literal["success"] = "success"
    query: str
    query_kind: Literal["image", "image_id", "text"]
    model_id: str
    filters: dict[str, str]
    method: str
    seconds: float
    hits: list[Hit]
    notes: list[str]


class CatalogueResponse(BaseModel):
    status: Literal["success"] = "success"
    path: str
    images: int
    tables: dict[str, int]
    sources: dict[str, int]
    splits: dict[str, int]
    embedding_models: list[str]
    search_indexes: list[str]


class CatalogueImage(BaseModel):
    image_id: str
    source: str
    split: str
    category: str = ""
    colour: str = ""
    article_type: str = ""
    image_url: str
    thumbnail_url: str


class ImagePageResponse(BaseModel):
    status: Literal["success"] = "success"
    total: int
    offset: int
    limit: int
    model_id: str | None
    items: list[CatalogueImage]
    facets: dict[str, dict[str, int]]


# -- jobs ------------------------------------------------------------------------------------


class JobProgressOut(BaseModel):
    done: int
    total: int | None
    fraction: float | None
    what: str


class JobOut(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
    progress: JobProgressOut
    status_url: str
    report_url: str


class JobResponse(BaseModel):
    status: Literal["success"] = "success"
    job: JobOut


class JobListResponse(BaseModel):
    status: Literal["success"] = "success"
    jobs: list[JobOut]


class ReportResponse(BaseModel):
    status: Literal["success"] = "success"
    job_id: str
    report: dict[str, Any] = Field(
        description="The video report (what `fashionlens video` writes as matches.json)."
    )


# -- generate --------------------------------------------------------------------------------

GENERATE_MAX_N, GENERATE_MAX_SCALE = 64, 4


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    n: int = Field(16, ge=1, le=GENERATE_MAX_N, description="Images (frames with interpolate, at least 2).")
    label: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Article type (see /v1/generate/options); default: drawn per image.",
    )
    colour: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Colour group (see /v1/generate/options); default: drawn per image.",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Noise seed: the same seed gives the same images.")
    interpolate: bool = Field(False, description="A latent walk of n frames in one row instead of a grid.")
    scale: int = Field(2, ge=1, le=GENERATE_MAX_SCALE, description="Nearest-neighbour upscale of the PNG.")


class GenerateResponse(BaseModel):
    status: Literal["success"] = "success"
    model_id: str
    png: str = Field(description="Base64 PNG: the grid (or the interpolation strip).")
    width: int
    height: int
    columns: int
    rows: int
    tile: int = Field(description="Pixels per image side in the PNG (64 * scale).")
    padding: int = Field(description="White pixels between and around the images (2 * scale).")
    n: int = Field(description="Images in the PNG.")
    seed: int
    interpolate: bool
    label: str | None = Field(description="The requested label as the model spells it.")
    colour: str | None = Field(description="The requested colour as the model spells it.")
    conditions: list[dict[str, str]] = Field(
        description="Per image, in grid order, what it was conditioned on: {'label': ..., 'colour': ...}."
    )
    seconds: float


class GenerateOptionsResponse(BaseModel):
    status: Literal["success"] = "success"
    model_id: str
    labels: list[str] = Field(description="Article types the generator knows ('other': the rest).")
    colours: list[str] = Field(description="Colour groups the generator knows.")
    image_size: int
    max_n: int
    max_scale: int
