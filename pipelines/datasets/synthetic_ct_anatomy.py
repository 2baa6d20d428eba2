"""The anatomy of one synthetic chest CT, in millimetres and Hounsfield units.

A patient is drawn first (``draw_patient``: every random choice, so a patient is a function of its
own generator) and rendered after (``render``: pure arithmetic). Everyone gets a body outline with
subcutaneous fat, two lungs whose density depends on inspiration with a dependent (posterior)
gradient, a heart, an aorta, a trachea and main bronchi, tapering vessel trees, ribs, a spine and a
sternum, and the confounders that make global statistics useless: dependent atelectasis (a
posterior band of consolidation-density lung with a ground-glass rim), vessel load, breathing
motion, noise and patient position, and plate-like atelectasis (thin discs of consolidation density anywhere in the
lungs). Only pneumonia patients get lesions (1 to 4, 5 to 40 mm,
ground glass -700 to -300 HU or consolidation -100 to +50 HU) anywhere in the aerated lung; the
largest is at least ``MIN_DOMINANT_MM`` across so that a small 3-D network can see it after
resampling, the others may be as small as 5 mm.

Each slice is the mean of two planes a quarter of its spacing either side of its centre (a thick
slice averages its slab), and edges are partial-volume (fractional occupancy over a pixel).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

FULL_MATRIX = 512  # the scanner's matrix: pixel spacing is drawn for it, a smaller one bins it
NOMINAL_THICKNESS_MM = 2.5  # ``slices`` slices at this thickness; thinner scans get more slices
MIN_DOMINANT_MM, MAX_LESION_MM, MIN_LESION_MM = 24.0, 40.0, 5.0
GROUND_GLASS_HU, CONSOLIDATION_HU = (-700.0, -300.0), (-100.0, 50.0)
SOFT_TISSUE_HU, FAT_HU, BLOOD_HU, AIR_HU = 40.0, -100.0, 40.0, -1000.0


@dataclass(frozen=True)
class Lesion:
    centre: tuple[float, float, float]  # x, y, z in mm (patient frame, LPS)
    radii: tuple[float, float, float]  # mm
    hu: float
    kind: str  # "ground_glass" or "consolidation"

    @property
    def diameter_mm(self) -> float:
        return 2.0 * float(np.mean(self.radii))


@dataclass(frozen=True)
class Capsule:
    """A tube from ``a`` to ``b`` whose radius tapers from ``ra`` to ``rb`` (mm)."""

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    ra: float
    rb: float


@dataclass(frozen=True)
class Plate:
    """Plate-like (discoid) atelectasis: a thin disc of collapsed lung anywhere in the lungs."""

    centre: tuple[float, float, float]
    normal: tuple[float, float, float]
    radius: float
    half_thickness: float
    hu: float


@dataclass
class Patient:
    """Every random choice of one patient; ``render`` turns it into a volume."""

    size: int  # rows = columns
    slices: int
    pixel_mm: float  # of the written matrix
    thickness_mm: float  # = spacing between slices
    full_pixel_mm: float  # what a 512 matrix would have had (0.6-0.9 mm)
    full_thickness_mm: float  # the scanner's slice thickness (1-5 mm), before ``slices`` scaled it
    offset: tuple[float, float]  # body centre in the field of view (patient position), mm
    body: tuple[float, float]  # half width, half depth of the body, mm
    fat_mm: float
    lung_half: tuple[float, float, float]  # half width, depth and height of each lung, mm
    lung_hu: float  # inspiration: -900 deep, -790 shallow
    dependent_hu: float  # how much denser the posterior lung is
    atelectasis_mm: tuple[float, float]  # band thickness per lung (right, left)
    atelectasis_hu: float
    vessels: list[Capsule]
    airways: list[Capsule]
    motion_mm: float  # breathing blur (sigma), mm
    noise_hu: float
    noise_seed: int
    plates: list[Plate] = field(default_factory=list)
    lesions: list[Lesion] = field(default_factory=list)

    @property
    def z_top(self) -> float:
        return (self.slices - 1) * self.thickness_mm / 2.0


def draw_patient(rng: np.random.Generator, pneumonia: bool, size: int, slices: int | None) -> Patient:
    """One patient drawn from ``rng``; ``slices`` None keeps the scanner's own count of slices
    (the scan length over its 1-5 mm thickness), a number scales a 2.5 mm scan to that many."""
    full_pixel = float(rng.uniform(0.6, 0.9))
    full_thickness = float(rng.uniform(1.0, 5.0))
    lung_h = float(rng.uniform(95.0, 130.0))
    length = 2 * lung_h + float(rng.uniform(30.0, 60.0))
    count = length / full_thickness if slices is None else slices * NOMINAL_THICKNESS_MM / full_thickness
    count = int(np.clip(round(count), 2, 2048))
    body = (float(rng.uniform(135.0, 175.0)), float(rng.uniform(95.0, 125.0)))
    lung_half = (body[0] * float(rng.uniform(0.30, 0.36)), body[1] * float(rng.uniform(0.62, 0.72)), lung_h)
    fov = full_pixel * FULL_MATRIX
    limit = max(0.0, fov / 2 - body[0] - 15.0)
    offset = (float(rng.uniform(-1, 1) * min(25.0, limit)), float(rng.uniform(-1, 1) * min(20.0, limit)))
    patient = Patient(
        size=size, slices=count, pixel_mm=fov / size, thickness_mm=length / count,
        full_pixel_mm=full_pixel, full_thickness_mm=full_thickness, offset=offset, body=body,
        fat_mm=float(rng.uniform(5.0, 30.0)), lung_half=lung_half,
        lung_hu=float(rng.uniform(-900.0, -790.0)), dependent_hu=float(rng.uniform(0.0, 120.0)),
        atelectasis_mm=(_atelectasis(rng), _atelectasis(rng)), atelectasis_hu=float(rng.uniform(*CONSOLIDATION_HU)),
        vessels=[], airways=_airways(rng, lung_half, lung_h), motion_mm=float(rng.uniform(0.0, 3.0)),
        noise_hu=float(rng.uniform(8.0, 45.0)), noise_seed=int(rng.integers(2**31)))
    patient.vessels = _vessel_trees(rng, patient)
    patient.plates = _plates(rng, patient)
    if pneumonia:
        patient.lesions = _lesions(rng, patient)
    return patient


def _atelectasis(rng: np.random.Generator) -> float:
    # A third of lungs have almost none; the rest a band up to 14 mm thick (100-300 mL a lung).
    return float(rng.uniform(0.0, 2.0) if rng.random() < 0.33 else rng.uniform(2.0, 14.0))


def _lung_centre(patient: Patient, side: int) -> tuple[float, float]:
    """Centre (x, y) of the right (side -1) or left (+1) lung, mm; LPS: +x is the patient's left."""
    half_w = patient.lung_half[0]
    return side * (half_w + 0.1 * patient.body[0]), -0.05 * patient.body[1]


def _airways(rng: np.random.Generator, lung_half: tuple[float, float, float], lung_h: float) -> list[Capsule]:
    carina = (0.0, -5.0, float(rng.uniform(0.15, 0.35)) * lung_h)
    radius = float(rng.uniform(7.0, 10.0))
    tubes = [Capsule((0.0, -8.0, lung_h + 60.0), carina, radius, radius)]
    for side in (-1, 1):
        end = (side * lung_half[0] * 1.05, 0.0, carina[2] - float(rng.uniform(25.0, 45.0)))
        tubes.append(Capsule(carina, end, radius * 0.75, radius * 0.5))
    return tubes


def _vessel_trees(rng: np.random.Generator, patient: Patient) -> list[Capsule]:
    """Per lung a tree from the hilum: 7-18 branches to random points, each with 0-2 side branches.
    Their count and calibre vary per patient: the vessel load is a confounder."""
    vessels: list[Capsule] = []
    calibre = float(rng.uniform(0.7, 1.35))
    for side in (-1, 1):
        cx, cy = _lung_centre(patient, side)
        hilum = (cx - side * 0.55 * patient.lung_half[0], cy, float(rng.uniform(-0.1, 0.2)) * patient.lung_half[2])
        for _ in range(int(rng.integers(7, 19))):
            end = _point_in_lung(rng, patient, side, 0.95)
            ra = calibre * float(rng.uniform(2.0, 4.5))
            vessels.append(Capsule(hilum, end, ra, ra * 0.25))
            for _ in range(int(rng.integers(0, 3))):
                t = float(rng.uniform(0.3, 0.7))
                start = tuple(h + t * (e - h) for h, e in zip(hilum, end, strict=True))
                vessels.append(Capsule(start, _point_in_lung(rng, patient, side, 0.95),  # type: ignore[arg-type]
                                       ra * (1 - 0.75 * t), ra * 0.2))
    return vessels


def _plates(rng: np.random.Generator, patient: Patient) -> list[Plate]:
    """1-6 discs 20-70 mm across, 6-16 mm thick, at consolidation density, standing upright (a line
    on an axial slice, as band atelectasis and scars look), in the lung away from the walls as
    lesions are: "dense voxels inside the lung" is no count of lesions."""
    plates = []
    for _ in range(int(rng.integers(1, 7))):
        angle, lean = float(rng.uniform(0.0, np.pi)), float(rng.normal(0.0, 0.3))
        normal = np.array([np.cos(angle), np.sin(angle), lean]) / np.sqrt(1.0 + lean**2)
        plates.append(Plate(_point_in_lung(rng, patient, int(rng.choice((-1, 1))), 0.8),
                            tuple(float(v) for v in normal), float(rng.uniform(10.0, 35.0)),  # type: ignore[arg-type]
                            float(rng.uniform(3.0, 8.0)), float(rng.uniform(*CONSOLIDATION_HU))))
    return plates


def _point_in_lung(rng: np.random.Generator, patient: Patient, side: int, scale: float) -> tuple[float, float, float]:
    cx, cy = _lung_centre(patient, side)
    while True:
        u = rng.uniform(-1.0, 1.0, 3)
        if float(np.sum(u**2)) < 1.0:
            hx, hy, hz = patient.lung_half
            return cx + scale * u[0] * hx, cy + scale * u[1] * hy, scale * u[2] * hz


def _lesions(rng: np.random.Generator, patient: Patient) -> list[Lesion]:
    """1-4 lesions; the first (dominant) one 24-40 mm and dense enough to see, the others 5-40 mm
    (log-uniform, so most are small), each mostly in lung and away from the dependent band."""
    lesions = []
    for number in range(int(rng.integers(1, 5))):
        dominant = number == 0
        low = MIN_DOMINANT_MM if dominant else MIN_LESION_MM
        diameter = float(np.exp(rng.uniform(np.log(low), np.log(MAX_LESION_MM))))
        kind = "consolidation" if rng.random() < 0.5 else "ground_glass"
        band = (-550.0, -300.0) if dominant and kind == "ground_glass" else (
            GROUND_GLASS_HU if kind == "ground_glass" else CONSOLIDATION_HU)
        side = int(rng.choice((-1, 1)))
        radii = tuple(diameter / 2 * float(rng.uniform(0.8, 1.2)) for _ in range(3))
        for _ in range(200):  # most of it in aerated lung, clear of the band atelectasis may hide it in
            centre = _point_in_lung(rng, patient, side, 0.9)
            reach = 0.5 * diameter / 2
            probes = [centre] + [(centre[0] + dx, centre[1] + dy, centre[2] + dz)
                                 for dx, dy, dz in ((reach, 0, 0), (-reach, 0, 0), (0, reach, 0), (0, -reach, 0),
                                                    (0, 0, reach), (0, 0, -reach))]
            back = _lung_centre(patient, side)[1] + 0.5 * patient.lung_half[1]
            if centre[1] < back and all(lung_occupancy_at(patient, point) > 0.99 for point in probes):
                break
        lesions.append(Lesion(centre, radii, float(rng.uniform(*band)), kind))  # type: ignore[arg-type]
    return lesions


def render(patient: Patient) -> tuple[np.ndarray, np.ndarray]:
    """The (slices, size, size) volume in HU (float32; slice 0 at the top, z decreasing) and its
    lesion mask (uint8, 1 where a lesion occupies more than half a voxel)."""
    n, size = patient.slices, patient.size
    z = patient.z_top - (np.arange(2 * n) + 0.5) * patient.thickness_mm / 2  # two planes a slice
    half = (size - 1) / 2 * patient.pixel_mm
    x = np.linspace(-half, half, size, dtype=np.float32) - patient.offset[0]
    y = np.linspace(-half, half, size, dtype=np.float32) - patient.offset[1]
    Z, Y, X = np.meshgrid(z.astype(np.float32), y, x, indexing="ij")
    px = patient.pixel_mm
    a, b = patient.body
    body = _ellipse_occupancy(X, Y, a, b, px)
    inner = _ellipse_occupancy(X, Y, a - patient.fat_mm, b - patient.fat_mm * 0.7, px)
    hu = AIR_HU + body * (FAT_HU - AIR_HU) + inner * (SOFT_TISSUE_HU - FAT_HU)
    hu += _bones(X, Y, Z, patient)
    lung = _lungs(X, Y, Z, patient)
    hu = _blend(hu, _lung_hu(Y, patient), lung)
    hu = _blend(hu, BLOOD_HU, _capsules(X, Y, Z, patient.vessels, px) * lung)
    hu = _atelectasis_blend(hu, X, Y, Z, patient, lung)
    for plate in patient.plates:
        hu = _blend(hu, plate.hu, _plate_occupancy(X, Y, Z, plate, px) * lung)
    lesion = np.zeros_like(hu)
    for item in patient.lesions:
        occupancy = _ellipsoid_occupancy(X - item.centre[0], Y - item.centre[1], Z - item.centre[2], item.radii, px)
        hu = _blend(hu, item.hu, occupancy * lung)
        lesion = np.maximum(lesion, occupancy * lung)
    airway = _capsules(X, Y, Z, patient.airways, px)
    wall = _capsules(X, Y, Z, [Capsule(c.a, c.b, c.ra + 2.0, c.rb + 2.0) for c in patient.airways], px)
    hu = _blend(_blend(hu, SOFT_TISSUE_HU, wall * (1 - lung)), AIR_HU, airway)
    hu = _table(hu, Y, X, patient)
    hu = 0.5 * (hu[0::2] + hu[1::2])
    lesion = 0.5 * (lesion[0::2] + lesion[1::2])
    hu = _motion(hu, patient)
    return hu.astype(np.float32), (lesion > 0.5).astype(np.uint8)


def _lungs(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, patient: Patient) -> np.ndarray:
    """Occupancy of both lungs: their drawn shapes less the heart, inside the chest wall."""
    a, b = patient.body
    px = patient.pixel_mm
    heart = _ellipsoid_occupancy(X - 0.12 * a, Y + 0.2 * b, Z + 0.45 * patient.lung_half[2],
                                 (0.33 * a, 0.42 * b, 0.4 * patient.lung_half[2]), px)
    lung = np.maximum(_lung_occupancy(X, Y, Z, patient, -1), _lung_occupancy(X, Y, Z, patient, 1))
    # The chest wall (muscle and ribs, 12 mm) bounds the lungs whatever their drawn size.
    return lung * (1.0 - heart) * _ellipse_occupancy(X, Y, a - patient.fat_mm - 12.0, b - patient.fat_mm * 0.7 - 12.0, px)


def lung_occupancy_at(patient: Patient, point: tuple[float, float, float]) -> float:
    """The lungs' occupancy (0-1) at one point (x, y, z) in mm."""
    X, Y, Z = (np.array([[[v]]], dtype=np.float32) for v in point)
    return float(_lungs(X, Y, Z, patient)[0, 0, 0])


def _blend(hu: np.ndarray, value: float | np.ndarray, fraction: np.ndarray) -> np.ndarray:
    return hu + fraction * (value - hu)


def _ellipse_occupancy(X: np.ndarray, Y: np.ndarray, a: float, b: float, px: float) -> np.ndarray:
    radius = np.sqrt((X / a) ** 2 + (Y / b) ** 2)
    return np.clip(0.5 + (1.0 - radius) * min(a, b) / px, 0.0, 1.0)


def _ellipsoid_occupancy(dx: np.ndarray, dy: np.ndarray, dz: np.ndarray, radii: tuple[float, float, float],
                         px: float) -> np.ndarray:
    radius = np.sqrt((dx / radii[0]) ** 2 + (dy / radii[1]) ** 2 + (dz / radii[2]) ** 2)
    return np.clip(0.5 + (1.0 - radius) * min(radii) / px, 0.0, 1.0)


def _lung_occupancy(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, patient: Patient, side: int) -> np.ndarray:
    # Rounded apex above the centre, a flatter, wider base above the diaphragm below it.
    cx, cy = _lung_centre(patient, side)
    hx, hy, hz = patient.lung_half
    t = Z / hz
    vertical = np.where(t > 0, t**2, (np.abs(t) ** 4))
    radius = np.sqrt(((X - cx) / hx) ** 2 + ((Y - cy) / hy) ** 2 + vertical)
    return np.clip(0.5 + (1.0 - radius) * hx / patient.pixel_mm, 0.0, 1.0)


def _lung_hu(Y: np.ndarray, patient: Patient) -> np.ndarray:
    depth = np.clip((Y + patient.lung_half[1]) / (2 * patient.lung_half[1]), 0.0, 1.0)
    return patient.lung_hu + patient.dependent_hu * depth**2


def _atelectasis_blend(hu: np.ndarray, X: np.ndarray, Y: np.ndarray, Z: np.ndarray, patient: Patient,
                       lung: np.ndarray) -> np.ndarray:
    """A posterior band of the given thickness (wavy along z) at consolidation density, with a
    ground-glass rim as thick again: normal lungs get both lesion densities."""
    for side, thickness in zip((-1, 1), patient.atelectasis_mm, strict=True):
        if thickness < 0.5:
            continue
        cx, cy = _lung_centre(patient, side)
        hx, hy, hz = patient.lung_half
        t = Z / hz
        vertical = np.where(t > 0, t**2, np.abs(t) ** 4)
        inside = 1.0 - ((X - cx) / hx) ** 2 - vertical
        back = cy + hy * np.sqrt(np.clip(inside, 0.0, None))  # the lung's posterior surface at (x, z)
        local = thickness * (0.6 + 0.4 * np.sin(Z / 23.0 + side))
        depth = back - Y  # mm in front of the posterior surface
        dense = np.clip(0.5 + (local - depth) / patient.pixel_mm, 0.0, 1.0) * (inside > 0)
        rim = np.clip(1.0 - (depth - local) / np.maximum(local, 1.0), 0.0, 1.0) * (inside > 0) * (depth > local)
        side_lung = lung * (np.sign(X) == side)
        hu = _blend(hu, -450.0, rim * side_lung * 0.8)
        hu = _blend(hu, patient.atelectasis_hu, dense * side_lung)
    return hu


def _plate_occupancy(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, plate: Plate, px: float) -> np.ndarray:
    dx, dy, dz = X - plate.centre[0], Y - plate.centre[1], Z - plate.centre[2]
    across = dx * plate.normal[0] + dy * plate.normal[1] + dz * plate.normal[2]
    along = np.sqrt(np.maximum(dx**2 + dy**2 + dz**2 - across**2, 0.0))
    radius = np.sqrt((along / plate.radius) ** 2 + (across / plate.half_thickness) ** 2)
    return np.clip(0.5 + (1.0 - radius) * plate.half_thickness / px, 0.0, 1.0)


def _capsules(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, tubes: list[Capsule], px: float) -> np.ndarray:
    """Occupancy of the union of tapered tubes, each computed in its bounding box only."""
    out = np.zeros_like(X)
    x, y, z = X[0, 0, :], Y[0, :, 0], Z[:, 0, 0]
    for tube in tubes:
        a, b = np.array(tube.a, np.float32), np.array(tube.b, np.float32)
        reach = max(tube.ra, tube.rb) + px
        box = []
        for axis, values in zip(range(3), (z, y, x), strict=True):
            index = 2 - axis
            low, high = min(a[index], b[index]) - reach, max(a[index], b[index]) + reach
            hits = np.nonzero((values >= low) & (values <= high))[0]
            if not len(hits):
                break
            box.append(slice(int(hits[0]), int(hits[-1]) + 1))
        if len(box) < 3:
            continue
        region = tuple(box)
        px_, py_, pz_ = X[region] - a[0], Y[region] - a[1], Z[region] - a[2]
        d = b - a
        t = np.clip((px_ * d[0] + py_ * d[1] + pz_ * d[2]) / max(float(d @ d), 1e-6), 0.0, 1.0)
        dist = np.sqrt((px_ - t * d[0]) ** 2 + (py_ - t * d[1]) ** 2 + (pz_ - t * d[2]) ** 2)
        radius = tube.ra + t * (tube.rb - tube.ra)
        out[region] = np.maximum(out[region], np.clip(0.5 + (radius - dist) / px, 0.0, 1.0))
    return out


def _bones(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, patient: Patient) -> np.ndarray:
    """What bone adds over soft tissue: vertebral bodies with discs, spinal canal, ribs, sternum."""
    a, b = patient.body
    px = patient.pixel_mm
    spine_y = b - 48.0
    vertebra = _ellipse_occupancy(X, Y - spine_y, 20.0, 17.0, px)
    disc = (np.mod(Z, 30.0) < 6.0).astype(np.float32)
    add = vertebra * (1 - disc) * 320.0 + vertebra * disc * 40.0
    add += _ellipse_occupancy(X, Y - spine_y - 30.0, 26.0, 10.0, px) * 380.0  # posterior arch
    add -= _ellipse_occupancy(X, Y - spine_y - 24.0, 8.0, 7.0, px) * 400.0  # the canal in it
    add += _ellipse_occupancy(X, Y + b - 14.0, 14.0, 6.0, px) * 350.0  # sternum
    # Ribs: every 26 mm, sloping down towards the front, a ring just inside the muscle.
    angle = np.arctan2(Y, X)
    ring = np.sqrt((X / (a - patient.fat_mm - 8.0)) ** 2 + (Y / (b - patient.fat_mm * 0.7 - 8.0)) ** 2)
    across = np.abs(ring - 1.0) * min(a, b)
    slope = 18.0 * np.clip(-np.sin(angle), 0.0, 1.0)  # anterior (y < 0) lower
    phase = np.mod(Z + slope, 26.0) - 13.0
    rib = np.clip(0.5 + (5.0 - np.sqrt(across**2 + phase**2)) / px, 0.0, 1.0)
    rib *= np.abs(np.cos(angle)) > 0.12  # no ribs across the sternum and spine
    return add + rib * 500.0


def _table(hu: np.ndarray, Y: np.ndarray, X: np.ndarray, patient: Patient) -> np.ndarray:
    top = patient.body[1] + 6.0
    board = ((Y > top) & (Y < top + 10.0) & (np.abs(X) < 220.0)).astype(np.float32)
    return _blend(hu, -250.0, board)


def _motion(hu: np.ndarray, patient: Patient) -> np.ndarray:
    """Breathing blur: along z and front-to-back, sigma ``motion_mm``; then scanner noise."""
    sigma = (patient.motion_mm / patient.thickness_mm, patient.motion_mm / patient.pixel_mm, 0.35)
    if patient.motion_mm > 0.3:
        hu = ndimage.gaussian_filter(hu, sigma=sigma, mode="nearest")
    rng = np.random.default_rng(patient.noise_seed)
    return hu + rng.normal(0.0, patient.noise_hu, hu.shape).astype(np.float32)
