"""3-D augmentation of volumes with MONAI (random affine, elastic deformation) and Gaussian noise:
draws come from the caller's generator only, image and mask move together, masks keep their class
ids, and a volume run with all of it on resumes exactly."""
from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pipelines.datasets.augment import AugmentationSettings, augment, augment_pair
from pipelines.datasets.augment_volume import elastic_magnitude
from tests.dataset_factories import write_zip

AFFINE = {"rotate_3d_degrees": 20.0, "scale_3d": 0.15}
ELASTIC = {"elastic_3d": 2.0, "elastic_3d_sigma": 4.0}
ALL_3D = {**AFFINE, **ELASTIC, "gaussian_noise": 0.1}


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _blobs(seed: int, shape: tuple[int, int, int] = (16, 24, 24), count: int = 3,
           radius: tuple[float, float] = (3.0, 5.0)) -> torch.Tensor:
    """A (1, D, H, W) volume of a few bright balls (edges one voxel soft) on a dark background, in [0, 1]."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.arange(s, dtype=np.float32) for s in shape), indexing="ij")
    volume = np.zeros(shape, np.float32)
    for _ in range(count):
        centre = [rng.uniform(0.35 * s, 0.65 * s) for s in shape]
        r = rng.uniform(*radius)
        distance = np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2)
        volume = np.maximum(volume, np.clip(r + 0.5 - distance, 0.0, 1.0))
    return torch.from_numpy(volume)[None]


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum() / (a | b).sum())


def _draw(settings: dict[str, Any], seed: int, sample: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    x = _blobs(0) if sample is None else sample
    mask = (x[0] > 0.5).long()
    out, moved = augment_pair(x, mask, AugmentationSettings.model_validate(settings), torch.Generator().manual_seed(seed))
    assert moved is not None
    return out, moved


@pytest.mark.parametrize("settings", [AFFINE, ELASTIC, {"gaussian_noise": 0.2}, ALL_3D])
def test_same_seed_same_draw_other_seed_other_draw(settings: dict[str, Any]) -> None:
    first, first_mask = _draw(settings, seed=7)
    again, again_mask = _draw(settings, seed=7)
    other, _ = _draw(settings, seed=8)
    assert torch.equal(first, again) and torch.equal(first_mask, again_mask)
    assert not torch.equal(first, other)
    assert not torch.equal(first, _blobs(0))
    assert first.shape == (1, 16, 24, 24) and first.dtype == torch.float32 and type(first) is torch.Tensor


def test_draws_come_from_the_generator_only() -> None:
    """The global torch, NumPy and MONAI streams play no part: reseeding them changes nothing."""
    settings = AugmentationSettings.model_validate(ALL_3D)
    x = _blobs(1)
    torch.manual_seed(1)
    np.random.seed(1)
    a = augment(x, settings, torch.Generator().manual_seed(5))
    torch.manual_seed(2)
    np.random.seed(2)
    b = augment(x, settings, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("settings", [AFFINE, ELASTIC, {**AFFINE, **ELASTIC}])
def test_image_and_mask_stay_aligned(settings: dict[str, Any]) -> None:
    """A mask drawn from the image's own threshold still matches the moved image's threshold: the
    overlap beats the mask shifted by one voxel along any axis (only edge voxels, bilinear image
    against nearest mask, may disagree) and the mask before the move."""
    for seed in range(4):
        x = _blobs(seed, (24, 32, 32), count=2, radius=(5.0, 7.0))
        mask = (x[0] > 0.5).long()
        out, moved = _draw(settings, seed, x)
        image, moved_mask = out[0] > 0.5, moved > 0
        overlap = _iou(image, moved_mask)
        shifted = max(_iou(image, torch.roll(moved_mask, step, dims=axis)) for axis in (0, 1, 2) for step in (1, -1))
        assert overlap > 0.86 and overlap > shifted + 0.04, (overlap, shifted)
        assert overlap > _iou(image, mask > 0) + 0.1  # the transform did move the balls
        assert float(out[0][moved_mask].mean()) > 0.75 and float(out[0][~moved_mask].mean()) < 0.05


def test_mask_keeps_class_ids_and_shape() -> None:
    rng = np.random.default_rng(3)
    mask = torch.from_numpy(rng.choice([0, 1, 2, 7], size=(16, 24, 24))).long()
    image = mask.float().unsqueeze(0) / 7
    for seed in range(3):
        out, moved = augment_pair(image, mask, AugmentationSettings.model_validate({**ALL_3D, "intensity_jitter": 0.2}),
                                  torch.Generator().manual_seed(seed))
        assert moved is not None and moved.shape == mask.shape and moved.dtype == torch.int64
        assert set(moved.unique().tolist()) <= {0, 1, 2, 7}
        assert out.shape == image.shape


def test_elastic_moves_voxels_by_about_the_asked_distance() -> None:
    """On a ramp whose value is the depth index, the output minus the input is the displacement
    along depth (bilinear is exact on a linear ramp): its RMS away from the borders is near
    ``elastic_3d``."""
    shape = (32, 40, 40)
    ramp = torch.arange(shape[0], dtype=torch.float32).reshape(1, -1, 1, 1).expand(1, *shape).contiguous()
    settings = AugmentationSettings(elastic_3d=2.0, elastic_3d_sigma=3.0)
    squares = []
    for seed in range(6):
        out = augment(ramp, settings, torch.Generator().manual_seed(seed))
        inner = (out - ramp)[0, 10:22, 10:30, 10:30]
        squares.append(float((inner**2).mean()))
    rms = float(np.sqrt(np.mean(squares)))
    assert 1.4 < rms < 2.6, rms
    assert elastic_magnitude(2.0, 3.0) == pytest.approx(2 * elastic_magnitude(1.0, 3.0))


def test_gaussian_noise_is_a_share_of_the_sample_std_and_works_on_images() -> None:
    x = torch.rand(3, 32, 32)
    out = augment(x, AugmentationSettings(gaussian_noise=0.25), torch.Generator().manual_seed(0))
    ratio = float((out - x).std() / x.std())
    assert out.shape == x.shape and ratio == pytest.approx(0.25, rel=0.05)
    constant = torch.full((1, 4, 8, 8), 0.5)
    assert torch.equal(augment(constant, AugmentationSettings(gaussian_noise=0.5), torch.Generator()), constant)


@pytest.mark.parametrize(("settings", "field"), [
    ({"rotate_3d_degrees": 10.0}, "rotate_3d_degrees"),
    ({"scale_3d": 0.1}, "scale_3d"),
    ({"elastic_3d": 1.0}, "elastic_3d"),
])
def test_volume_settings_on_a_2d_image_raise_naming_the_field(settings: dict[str, Any], field: str) -> None:
    parsed = AugmentationSettings.model_validate(settings)
    assert parsed.volume_only() == [field]
    with pytest.raises(ValueError, match=field):
        augment(torch.rand(1, 16, 16), parsed, torch.Generator())


def test_settings_ranges_are_checked() -> None:
    for bad in ({"rotate_3d_degrees": 181}, {"scale_3d": 0.6}, {"elastic_3d": -1}, {"elastic_3d_sigma": 1},
                {"gaussian_noise": 2}):
        with pytest.raises(ValueError):
            AugmentationSettings.model_validate(bad)
    assert AugmentationSettings(gaussian_noise=0.1).volume_only() == []
    assert AugmentationSettings().is_identity


# ---- a volume run with all of it on resumes exactly ------------------------------------------------
def _nifti(volume: np.ndarray) -> bytes:
    import nibabel

    image = nibabel.Nifti1Image(volume.astype(np.int16), np.diag([1.0, 1.0, 1.0, 1.0]))
    buffer = io.BytesIO()
    image.to_file_map(nibabel.Nifti1Image.make_file_map({"image": buffer, "header": buffer}))
    return gzip.compress(buffer.getvalue())


@pytest.fixture(scope="module")
def volume_cache(tmp_path_factory: Any) -> Path:
    from pipelines.datasets.ingest import ingest

    folder = tmp_path_factory.mktemp("volumes")
    rows, members = ["file,label,patient"], {}
    for i in range(12):
        blobs = _blobs(i, (8, 16, 16))[0].numpy()
        hu = -1000.0 + 1000.0 * blobs * (0.5 if i % 2 else 1.0)  # two classes: faint and bright lesions
        members[f"scans/v{i}.nii.gz"] = _nifti(hu.transpose(2, 1, 0))  # NIfTI is x, y, z
        rows.append(f"v{i}.nii.gz,{'faint' if i % 2 else 'bright'},P{i}")
    members["scans/labels.csv"] = ("\n".join(rows) + "\n").encode()
    archive = write_zip(folder / "ct.zip", members)
    ingest("ct_nifti", archive, "ct.zip", folder / "work",
           {"volume_shape": [8, 16, 16], "val_fraction": 0.2, "test_fraction": 0.2})
    return folder / "work" / "cache"


def _volume_graph() -> dict[str, Any]:
    nodes = [("ct", "volume_input", {"channels": 1, "depth": 8, "height": 16, "width": 16}),
             ("conv", "conv3d", {"out_channels": 4, "kernel_size": 3, "padding": 1}), ("relu", "relu", {}),
             ("flat", "flatten", {}), ("logits", "linear", {"out_features": 2})]
    return {"schema_version": 1, "name": "vol",
            "nodes": [{"id": i, "type": t, "params": p, "position": {"x": 0.0, "y": 0.0}} for i, t, p in nodes],
            "edges": [{"source": a[0], "source_port": "out", "target": b[0], "target_port": "in"}
                      for a, b in zip(nodes, nodes[1:], strict=False)]}


def _fit(cache: Path, folder: Path, epochs: int) -> Any:
    from builder.graph import compile_graph
    from pipelines.training.config import parse_config
    from pipelines.training.data import cached_loaders
    from pipelines.training.engine import fit

    cfg = parse_config({"batch_size": 4, "epochs": epochs, "seed": 2, "optimizer": {"lr": 1e-2},
                        "augmentation": ALL_3D})
    data = cached_loaders(cache, batch_size=cfg.batch_size, seed=cfg.seed, classes=2, augmentation=ALL_3D)
    events: list[dict[str, Any]] = []
    return fit(compile_graph(_volume_graph()), data, cfg, device=torch.device("cpu"), checkpoint_dir=folder,
               emit=events.append), events


def test_volume_run_with_3d_augmentation_resumes_exactly(volume_cache: Path, tmp_path: Path) -> None:
    from pipelines.datasets.loader import CachedDataset
    from pipelines.training import checkpoint

    train = CachedDataset(volume_cache, "train", augmentation=ALL_3D, seed=2)
    plain = CachedDataset(volume_cache, "train")
    assert train[0][0].shape == (1, 8, 16, 16) and not torch.equal(train[0][0], plain[0][0])

    straight, _ = _fit(volume_cache, tmp_path / "straight", epochs=3)
    _fit(volume_cache, tmp_path / "stopped", epochs=1)
    resumed, events = _fit(volume_cache, tmp_path / "stopped", epochs=3)
    assert any("resumed from epoch-0000" in e.get("message", "") for e in events)
    a, b = (checkpoint.load(tmp_path / run / "epoch-0002").weights for run in ("straight", "stopped"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
