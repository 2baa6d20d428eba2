"""Ingest options per dataset kind: typed, with ranges, validated on the server before queueing."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

KINDS = ("image", "table", "text", "ct_dicom", "ct_nifti", "segmentation")

Fraction = Annotated[float, Field(ge=0.0, le=0.9)]


class Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the train/validation/test split.")
    val_fraction: Fraction = Field(0.1, description="Share of groups in the validation split.")
    test_fraction: Fraction = Field(0.1, description="Share of groups in the test split.")
    split_strategy: Literal["stratified", "random"] = Field(
        "stratified", description="stratified: every split keeps the label mix; random: groups drawn at random. "
        "Either way a group (patient, document, group column) stays in one split."
    )

    @model_validator(mode="after")
    def _fractions(self) -> Common:
        if self.val_fraction + self.test_fraction >= 0.95:
            raise ValueError("val_fraction + test_fraction must leave at least 5% for training")
        return self


class ImageOptions(Common):
    image_size: tuple[int, int] | None = Field(
        None, description="[height, width] every image is resized to; default: the most common size."
    )
    channels: Literal[1, 3] | None = Field(None, description="1 (grey) or 3 (RGB); default: from the data.")
    labels_csv: str | None = Field(
        None, description="Path inside the zip of a CSV with columns file,label[,group]; default: class folders."
    )

    @model_validator(mode="after")
    def _size(self) -> ImageOptions:
        if self.image_size is not None and not all(4 <= s <= 1024 for s in self.image_size):
            raise ValueError("image_size values must be between 4 and 1024")
        return self


class SegmentationOptions(Common):
    image_size: tuple[int, int] | None = Field(
        None, description="[height, width] images (bilinear) and masks (nearest) are resized to; default: the most common size."
    )
    channels: Literal[1, 3] | None = Field(None, description="1 (grey) or 3 (RGB); default: from the images.")
    classes_file: str | None = Field(
        None, description="Path inside the zip of a classes.json or CSV naming the class ids or colours; "
        "default: the only .json or .csv of the archive, else the masks' integer values are the classes."
    )
    num_classes: int | None = Field(
        None, ge=2, le=1024, description="Without a classes file: mask values must be below this; default: max value + 1."
    )

    @model_validator(mode="after")
    def _size(self) -> SegmentationOptions:
        if self.image_size is not None and not all(4 <= s <= 1024 for s in self.image_size):
            raise ValueError("image_size values must be between 4 and 1024")
        return self


class TableOptions(Common):
    target_column: str = Field(..., min_length=1, max_length=200, description="Column to predict.")
    task: Literal["auto", "classification", "regression"] = "auto"
    drop_columns: list[str] = Field(default_factory=list, max_length=1000)
    group_column: str | None = Field(None, description="Rows sharing this value stay in one split.")
    max_categories: int = Field(50, ge=2, le=1000, description="Rarer categories become __other__.")
    feature_scaling: Literal["standardize", "none"] = Field(
        "standardize", description="Numeric columns: (x - mean) / std, or none (kept in their own units).")


class TextOptions(Common):
    text_column: str = Field("text", min_length=1, max_length=200)
    label_column: str = Field("label", min_length=1, max_length=200)
    vocab_size: int = Field(8000, ge=100, le=200_000)
    max_length: int = Field(256, ge=8, le=8192, description="Tokens per sample; longer documents are chunked.")
    stride: int = Field(32, ge=0, le=4096, description="Tokens shared by consecutive chunks.")
    max_chunks_per_document: int = Field(16, ge=1, le=1024)

    @model_validator(mode="after")
    def _stride(self) -> TextOptions:
        if self.stride >= self.max_length:
            raise ValueError("stride must be smaller than max_length")
        return self


WINDOW_PRESETS: dict[str, tuple[float, float]] = {  # name: (center, width) in HU
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: Literal["lung", "mediastinum", "bone", "brain", "custom"] = "lung"
    center: float | None = Field(None, ge=-4000, le=4000)
    width: float | None = Field(None, gt=0, le=10000)

    @model_validator(mode="after")
    def _custom(self) -> Window:
        if self.preset == "custom" and (self.center is None or self.width is None):
            raise ValueError("a custom window needs center and width")
        return self

    @classmethod
    def from_recipe(cls, recipe_window: dict[str, Any]) -> Window:
        return cls.model_validate({k: recipe_window.get(k) for k in ("preset", "center", "width")})

    def bounds(self) -> tuple[float, float]:
        center, width = (
            (self.center, self.width) if self.preset == "custom" else WINDOW_PRESETS[self.preset]
        )
        assert center is not None and width is not None
        return center - width / 2, center + width / 2


class VolumeOptions(Common):
    mode: Literal["3d", "2d"] = Field("3d", description="3d: one sample per volume; 2d: one per slice.")
    volume_shape: tuple[int, int, int] = Field(
        (32, 128, 128), description="[depth, height, width] after resampling (and crop/pad)."
    )
    spacing: tuple[float, float, float] | None = Field(
        None, description="[z, y, x] millimetres to resample to before crop/pad; default: fit to shape."
    )
    window: Window = Field(default_factory=Window, description="Window applied by the data loader.")
    labels_csv: str | None = Field(None, description="CSV inside the zip; default: class folders.")

    @model_validator(mode="after")
    def _shape(self) -> VolumeOptions:
        if not all(1 <= s <= 1024 for s in self.volume_shape):
            raise ValueError("volume_shape values must be between 1 and 1024")
        if self.spacing is not None and not all(0.05 <= s <= 50 for s in self.spacing):
            raise ValueError("spacing values must be between 0.05 and 50 mm")
        return self


class DicomOptions(VolumeOptions):
    pass


class NiftiOptions(VolumeOptions):
    pass


OPTION_MODELS: dict[str, type[Common]] = {
    "image": ImageOptions,
    "table": TableOptions,
    "text": TextOptions,
    "ct_dicom": DicomOptions,
    "ct_nifti": NiftiOptions,
    "segmentation": SegmentationOptions,
}


def parse_options(kind: str, raw: dict[str, Any] | None) -> Common:
    """Validated options for ``kind``; raises ValueError or pydantic.ValidationError."""
    if kind not in OPTION_MODELS:
        raise ValueError(f"unknown dataset kind {kind!r}; use one of {', '.join(KINDS)}")
    return OPTION_MODELS[kind].model_validate(raw or {})


def option_errors(kind: str, raw: Any) -> dict[str, list[str]]:
    """Field -> messages for bad options (empty when they are fine): for the API's 400."""
    if not isinstance(raw, dict):
        return {"options": ["must be a JSON object"]}
    try:
        parse_options(kind, raw)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            errors.setdefault(f"options.{path}" if path else "options", []).append(err["msg"])
        return errors
    except ValueError as exc:
        return {"kind": [str(exc)]}
    return {}
