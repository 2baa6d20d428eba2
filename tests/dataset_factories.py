"""Small generated inputs for the dataset tests: archives, images, CSVs, DICOM and NIfTI files,
and the bad inputs of the safety list. Nothing is downloaded."""
from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_bytes(size: tuple[int, int] = (12, 10), mode: str = "RGB", value: int = 128, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value if mode in ("L", "1") else (value, 255 - value, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring width x height pixels, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def patch_name(path: Path, placeholder: str, raw: bytes) -> Path:
    """Replace a member name in both zip headers (zipfile refuses to write NUL bytes itself)."""
    data = path.read_bytes()
    assert len(placeholder.encode()) == len(raw)
    path.write_bytes(data.replace(placeholder.encode(), raw))
    return path


def image_class_zip(path: Path, per_class: int = 6, classes: tuple[str, ...] = ("cat", "dog")) -> Path:
    members = {}
    formats = [("png", "PNG"), ("jpg", "JPEG"), ("bmp", "BMP"), ("tif", "TIFF")]
    for c, label in enumerate(classes):
        for i in range(per_class):
            ext, fmt = formats[i % len(formats)]
            mode = "L" if i % 2 else "RGB"
            members[f"pets/{label}/{label}{i}.{ext}"] = png_bytes((12, 10), mode, 40 + 80 * c + i, fmt)
    return write_zip(path, members)


def table_csv(path: Path, rows: int = 60) -> Path:
    rng = np.random.default_rng(0)
    lines = ["age,colour,income,label"]
    for i in range(rows):
        age = "" if i % 10 == 3 else str(int(rng.integers(18, 80)))
        colour = ["red", "green", "blue", ""][i % 4]
        lines.append(f"{age},{colour},{rng.normal(50, 10):.2f},{'yes' if i % 3 else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def text_csv(path: Path, rows: int = 40) -> Path:
    lines = ["text,label"]
    for i in range(rows):
        label = "pos" if i % 2 else "neg"
        words = ("good great fine lovely " if label == "pos" else "bad awful poor sad ") * (40 if i == 0 else 2)
        lines.append(f"\"{words.strip()} number {i}\",{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def nifti_bytes(shape: tuple[int, int, int] = (8, 8, 6), value: float = 100.0, gz: bool = True) -> bytes:
    import nibabel

    image = nibabel.Nifti1Image(np.full(shape, value, dtype=np.int16), np.diag([1.5, 1.5, 3.0, 1.0]))
    buffer = io.BytesIO()
    file_map = nibabel.Nifti1Image.make_file_map({"image": buffer, "header": buffer})
    image.to_file_map(file_map)
    raw = buffer.getvalue()
    return __import__("gzip").compress(raw) if gz else raw


def nifti_absurd_header() -> bytes:
    """A NIfTI-1 header declaring 60000^3 voxels, followed by a few bytes."""
    raw = bytearray(nifti_bytes(gz=False))
    struct.pack_into("<8h", raw, 40, 3, 30000, 30000, 30000, 1, 1, 1, 1)
    return bytes(raw[:400])


def nifti_zip(path: Path, volumes: int = 6) -> Path:
    members = {}
    rows = ["file,label,patient"]
    for i in range(volumes):
        label = "healthy" if i % 2 else "sick"
        name = f"vol{i}.nii.gz"
        members[f"scans/{name}"] = nifti_bytes(value=-800.0 if i % 2 else 0.0)
        rows.append(f"{name},{label},P{i // 2}")
    members["scans/labels.csv"] = ("\n".join(rows) + "\n").encode()
    return write_zip(path, members)


def dicom_folder_zip(path: Path, source: Path, patients: int = 4, slices: int = 6, size: int = 16) -> Path:
    from pipelines.datasets.synthetic_ct import write_chest_ct

    write_chest_ct(source, patients=patients, slices=slices, size=size)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(source.rglob("*.dcm")):
            zf.write(file, file.relative_to(source).as_posix())
    return path


def array_png(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def seg_pair(index: int, size: tuple[int, int] = (12, 16)) -> tuple[bytes, np.ndarray]:
    """An RGB image (PNG) and its mask of ids 0/1/2: a block of class 1 or 2 on its left."""
    height, width = size
    mask = np.zeros(size, dtype=np.uint8)
    mask[height // 3 : 2 * height // 3, : width // 2] = 1 + index % 2
    image = np.stack([mask * 100 + 20, np.full(size, 60 + index, np.uint8), mask * 50], axis=-1).astype(np.uint8)
    return array_png(image), mask


def segmentation_zip(path: Path, pairs: int = 8, extra: dict[str, bytes] | None = None,
                     classes: bytes | None = b'{"background": 0, "road": 1, "car": 2}') -> Path:
    """seg/images/NN.png with seg/masks/NN.png (ids), a classes.json, and ``extra`` members."""
    members: dict[str, bytes] = {}
    for i in range(pairs):
        image, mask = seg_pair(i)
        members[f"seg/images/{i:02d}.png"] = image
        members[f"seg/masks/{i:02d}.png"] = array_png(mask)
    if classes is not None:
        members["seg/classes.json"] = classes
    members.update(extra or {})
    return write_zip(path, members)
