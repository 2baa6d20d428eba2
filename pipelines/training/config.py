"""The run configuration a person writes, as typed models with ranges: a bad value names its field.

``RunConfig.model_validate(json)`` is the only way a config enters the engine; its
``model_dump(mode="json")`` is what is stored with a run and its artifact.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipelines.datasets.augment import AugmentationSettings

Task = Literal["classification", "regression", "segmentation"]
LOSSES: dict[str, tuple[str, ...]] = {
    "classification": ("cross_entropy",),
    "regression": ("mse", "l1", "smooth_l1"),
    "segmentation": ("cross_entropy", "dice", "dice_cross_entropy"),
}
# What early stopping can follow for each task: the validation loss and the task's own metrics
# (pipelines.training.metrics); another task's metric is never measured, so it would never improve.
MONITORED: dict[str, tuple[str, ...]] = {
    "classification": ("loss", "accuracy", "f1_macro"),
    "regression": ("loss", "mae", "rmse", "r2"),
    "segmentation": ("loss", "dice", "iou"),
}


class FieldValueError(ValueError):
    """A model-level check that names the field it is about (``parse_config`` reports that field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptimizerConfig(_Strict):
    name: Literal["sgd", "adam", "adamw"] = Field("adam", description="The optimizer.")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="Learning rate (peak rate for one-cycle).")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="L2 penalty (decoupled for AdamW).")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum.")


class ScheduleConfig(_Strict):
    name: Literal["none", "step", "cosine", "one_cycle"] = Field("none", description="Learning-rate schedule.")
    step_size: int = Field(10, ge=1, le=10_000, description="step: epochs between decays.")
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="step: decay factor.")
    warmup_fraction: float = Field(0.3, gt=0.0, lt=1.0, description="one_cycle: share of steps warming up.")


class EarlyStoppingConfig(_Strict):
    enabled: bool = Field(False, description="Stop when the monitored metric stops improving.")
    metric: Literal["loss", "accuracy", "f1_macro", "mae", "rmse", "r2", "dice", "iou"] = Field(
        "loss", description="The validation figure followed: loss, or one the run's task measures (classification "
                            "accuracy or f1_macro; regression mae, rmse or r2; segmentation dice or iou).")
    patience: int = Field(5, ge=1, le=1000, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as improvement.")


class PrecisionConfig(_Strict):
    precision_mode: Literal["fp32", "fp16", "bf16", "dynamic"] = Field("fp32", description="Numeric precision.")
    threshold: float = Field(0.01, gt=0.0, le=1.0,
                             description="dynamic: relative error a layer may add in low precision (10x that "
                                         "for its sample-to-sample signal); above it, or on overflow, it moves to fp32.")
    low_dtype: Literal["auto", "fp16", "bf16"] = Field(
        "auto", description="dynamic: the low precision (auto: fp16 on CUDA, bf16 elsewhere).")
    probe_every: int = Field(50, ge=1, le=100_000, description="dynamic: steps between probes.")
    probe_batch: int = Field(16, ge=1, le=4096, description="dynamic: samples in a probe batch.")
    hysteresis: int = Field(3, ge=1, le=100,
                            description="dynamic: probes under threshold/2 before a layer goes back to low precision.")


class DeviceConfig(_Strict):
    kind: Literal["auto", "cpu", "cuda", "mps", "xpu"] = Field("auto", description="Accelerator kind.")
    gpus: int = Field(1, ge=1, le=64, description="Accelerators for data-parallel training (cuda/xpu), on each node.")
    nodes: int = Field(1, ge=1, le=64, description="Machines (Celery workers) the run spans, each with gpus ranks: "
                                                   "one task per node, meeting in torch's c10d rendezvous.")

    @model_validator(mode="after")
    def _nodes_fit_kind(self) -> DeviceConfig:
        if self.nodes > 1 and self.kind == "mps":
            raise FieldValueError("device.nodes", "mps training runs on one machine; use cpu, cuda or xpu")
        return self


class DistributedConfig(_Strict):
    backend: Literal["nccl", "gloo"] | None = Field(None, description="Default: nccl on CUDA, gloo elsewhere.")
    overlap: bool = Field(True, description="All-reduce gradient buckets during backward (plain DDP); false: one "
                                            "bucket larger than the model, all-reduced after backward.")
    sync_batchnorm: bool | None = Field(None, description="Batch-norm statistics over the global batch, across "
                                                          "ranks (default: on when the graph has batch norm).")
    compression: Literal["none", "fp16", "bf16", "powersgd"] = Field(
        "none", description="Gradient compression for the all-reduce (a DDP communication hook).")
    powersgd_rank: int = Field(1, ge=1, le=64, description="powersgd: rank of the low-rank gradient approximation.")
    timeout_s: int = Field(600, ge=10, le=86_400, description="A rank waiting this long for the others (one hung "
                                                              "or lost) fails the run.")


FINETUNE_LR = 1e-4  # the default learning rate when starting from pretrained weights


class InitWeights(_Strict):
    """Where a fine-tuning run's starting weights come from: one market version, one fork, or one
    model of this project (a pruned model, say). ``path``, ``sha256`` and ``drop`` are filled in by
    the server when the run is created."""

    market_version: int | None = Field(None, ge=1, description="Id of a market entry version with weights.")
    fork: int | None = Field(None, ge=1, description="Id of a market fork (in this project) that recorded weights.")
    model: int | None = Field(None, ge=1, description="Id of a model of this project (e.g. a pruned one).")
    path: str = Field("", description="Set by the server: the resolved safetensors file.")
    sha256: str = Field("", description="Set by the server: the file's SHA-256, checked before loading.")
    drop: list[str] = Field(default_factory=list, description="Set by the server: node ids whose weights are "
                                                              "not loaded (a replaced head).")

    @model_validator(mode="after")
    def _one_source(self) -> InitWeights:
        if sum(source is not None for source in (self.market_version, self.fork, self.model)) != 1:
            raise ValueError("give exactly one of market_version, fork or model")
        return self


class RunConfig(_Strict):
    task: Task = Field("classification", description="What the run learns: the dataset version's task, which the "
                       "Train form takes from the chosen version.")
    loss: str = Field("", description="Loss; default: the task's first (cross_entropy or mse).")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)  # type: ignore[arg-type]
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)  # type: ignore[arg-type]
    epochs: int = Field(10, ge=1, le=10_000)
    batch_size: int = Field(64, ge=1, le=65_536)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)  # type: ignore[arg-type]
    seed: int = Field(0, ge=0, le=2**31 - 1)
    augmentation: AugmentationSettings | None = Field(None, description="Default: the dataset's augmentation.")
    device: DeviceConfig = Field(default_factory=DeviceConfig)  # type: ignore[arg-type]
    precision: PrecisionConfig = Field(default_factory=PrecisionConfig)  # type: ignore[arg-type]
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)  # type: ignore[arg-type]
    max_attempts: int = Field(3, ge=1, le=20, description="Worker crashes tolerated before the run fails.")
    stats_every: int = Field(20, ge=1, le=100_000, description="Steps between progress and layer-statistics events.")
    init_weights: InitWeights | None = Field(None, description="Fine-tune: start from these weights.")
    freeze: list[str] = Field(default_factory=list, max_length=10_000,
                              description="Node ids whose parameters are not trained.")
    target_scaling: Literal["standardize", "none", "log"] = Field(
        "standardize", description="Regression: train on the target standardised (or its log standardised, for "
        "positive skewed targets) with the training split's statistics; metrics and predictions stay in the "
        "data's units. none: the raw target.")
    output_bias: Literal["auto", "target_mean", "layer_default"] = Field(
        "auto", title="Output bias (regression)",
        description="Regression: where the output layer's bias starts. target_mean: the mean of the training "
        "split's targets (in the units the network learns), so the first prediction is the best constant one; "
        "layer_default: the layer's own initialisation; auto: target_mean when target_scaling is none, else "
        "layer_default.")

    @model_validator(mode="after")
    def _loss_fits_task(self) -> RunConfig:
        allowed = LOSSES[self.task]
        if not self.loss:
            self.loss = allowed[0]
        elif self.loss not in allowed:
            raise ValueError(f"loss {self.loss!r} does not fit task {self.task!r}; use one of {', '.join(allowed)}")
        return self

    @model_validator(mode="after")
    def _stopping_metric_fits_task(self) -> RunConfig:
        metric, allowed = self.early_stopping.metric, MONITORED[self.task]
        if self.early_stopping.enabled and metric not in allowed:
            raise FieldValueError("early_stopping.metric", f"{metric!r} is not measured for task {self.task!r}, so it "
                                  f"would never improve; follow one of {', '.join(allowed)}")
        return self

    @model_validator(mode="after")
    def _output_bias_fits_task(self) -> RunConfig:
        if self.output_bias == "target_mean" and self.task != "regression":
            raise FieldValueError("output_bias", f"target_mean applies to regression, not {self.task}; use "
                                  "auto or layer_default")
        return self

    @model_validator(mode="after")
    def _finetune_lr(self) -> RunConfig:
        # Pretrained weights are a good starting point that a large step would throw away.
        if self.init_weights is not None and "lr" not in self.optimizer.model_fields_set:
            self.optimizer.lr = FINETUNE_LR
        return self


def parse_config(raw: Any) -> RunConfig:
    """Parse a run config; raises ``ConfigError`` naming the first bad field (``config.<path>``)."""
    try:
        return RunConfig.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-after"))
        field = f"config.{where}" if where else "config"
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, FieldValueError):
            field = f"config.{cause.field}"
        elif first["type"] == "value_error" and not where:
            field = "config.loss"
        raise ConfigError(field, first["msg"].removeprefix("Value error, ")) from exc


class ConfigError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
