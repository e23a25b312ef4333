"""A photometric stage after ``params fit``'s refined fit, measured against the truth on fit_accuracy.py's renders.

Not in the package yet: this measures what such a stage can reach before it is built there (issue 12). After the
two stages of ``params fit`` (landmarks alone, then refined), every unknown (β, ψ, pose, jaw, camera) is fitted
again to the photo's colours as well as to dlib's landmarks (down-weighted: their per-identity bias is what the
stage is for):

- the photo (linear RGB, blurred per round) is sampled bilinearly at the projections of surface points, one per
  texel (every ``--stride``-th) of the inner face (face, lips, nose, eye region, forehead; not the eyeballs, the
  mouth's inside or the scalp), with gradients through the projection;
- each point's albedo comes from ``--albedo``: ``own``, the render's own texture (an oracle no photo has: the
  upper bound), or ``procedural``, the per-texel PCA of ``--textures`` procedural albedos of other seeds (the
  built-in heads' own albedo space: the best prior available here), its coefficients solved in closed form under
  a weak Gaussian prior, alternated with the light;
- the light is first-order spherical harmonics per channel, solved in closed form;
- which points the camera sees is decided per round (the analytic ray caster) and held within it.

``--start truth`` starts the stage at the true parameters instead: how far its own optimum lies from the truth.
Printed per frame: the fitted landmarks' mean distance from the true ones (the calibrated embedding on both sides,
as fit_accuracy.py's "truth"), by region, and the worst of yaw/pitch/roll error, before and after; per set and
albedo, the counts against the issue's targets (2 px, 3°) and the stage's CPU time per frame.

    python benchmarks/fit_accuracy.py --work out/fitlab/v7       # renders, if not there yet
    python benchmarks/fit_photometric.py --work out/fitlab/v7 --albedo own --albedo procedural
    python benchmarks/fit_photometric.py --work out/fitlab/v7 --set test --start truth
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the render helper lives in the tests package

from fit_accuracy import _head_of_renders, _sets, fit_both_stages  # noqa: E402

from ffn_render.appearance import sample_appearance  # noqa: E402
from ffn_render.appearance.colour import srgb_to_linear  # noqa: E402
from ffn_render.appearance.unwrap import _region_share, _seen_colour  # noqa: E402  (the unwrap's regions and visibility)
from ffn_render.appearance.uvmap import UVRaster, rasterize_uv  # noqa: E402
from ffn_render.facemodel.fit import (  # noqa: E402  (the fit's own pieces, so this stage poses and weighs as it does)
    SENSOR_WIDTH_MM, FitOptions, LandmarkFit, _project, _pseudo_huber, _shape_and_pose_prior, _SkinnedSubset,
    detect_landmarks, fit_landmarks_in_image, head_turn_deg, landmark_weights,
)
from ffn_render.facemodel.landmarks import calibrated_landmark_embedding  # noqa: E402
from ffn_render.facemodel.model import POSE_SIZE  # noqa: E402
from ffn_render.faces import LANDMARK_REGIONS, read_rgb  # noqa: E402
from ffn_render.render import parse_config  # noqa: E402
from tests.params.known_renders import APPEARANCE, euler_errors_deg, read_known  # noqa: E402

INNER_REGIONS = ("face", "lips", "nose", "eye_region", "forehead")
EXCLUDED_REGIONS = ("left_eyeball", "right_eyeball", "mouth_interior", "scalp")
BASIS_SEEDS = 5000  # the procedural basis's first seed: disjoint from the renders' (21–44) and the calibration's (1000 on)


@dataclass(frozen=True)
class StageSettings:
    weight: float = 5000.0  # the photometric term at the start, in px² of landmark loss
    landmark_scale: float = 0.05  # dlib's landmarks count this much of params fit's weights
    blur_px: tuple[float, ...] = (1.0, 1.0, 1.0)  # one round per blur (σ, px)
    iterations: int = 30  # L-BFGS iterations per round
    stride: int = 2  # every stride-th texel of the map, each way
    min_seen: float = 0.3  # facing weight (the unwrap's) a point needs to count
    albedo_prior: float = 1e-4  # the PCA coefficients' Gaussian prior, relative to the data term


@dataclass(frozen=True)
class AlbedoModel:
    """Linear albedo of every covered texel: ``mean`` (N, 3) + Σ z_k ``components[k]`` (K, N, 3), z_k ~ N(0, σ_k²)."""

    mean: np.ndarray
    components: np.ndarray
    sigma: np.ndarray

    def rows(self, keep: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.as_tensor(self.mean[keep], dtype=torch.float64),
                torch.as_tensor(self.components[:, keep], dtype=torch.float64),
                torch.as_tensor(self.sigma, dtype=torch.float64))


def _linear_texels(albedo: np.ndarray, raster: UVRaster) -> np.ndarray:
    return srgb_to_linear(albedo[raster.covered].astype(np.float64) / 255.0)


def _appearance_config(appearance: dict):
    return parse_config({"appearance": appearance}, source="<fit_photometric>").appearance


def own_albedo(model, seed: int, raster: UVRaster) -> AlbedoModel:
    """The render's own albedo (the appearance its seed draws), no free coefficients."""
    config = _appearance_config(APPEARANCE)
    mean = _linear_texels(sample_appearance(seed, model, config).albedo, raster)
    return AlbedoModel(mean, np.zeros((0, *mean.shape)), np.zeros(0))


def procedural_basis(model, raster: UVRaster, n_textures: int, n_components: int, cache: Path) -> AlbedoModel:
    """PCA of ``n_textures`` procedural albedos (default appearance config, seeds from BASIS_SEEDS), kept in ``cache``."""
    if not cache.is_file():
        config = _appearance_config({"texture_size": raster.size, "background_size": 64})
        texels = np.stack([_linear_texels(sample_appearance(seed, model, config).albedo, raster).reshape(-1)
                           for seed in click.progressbar(range(BASIS_SEEDS, BASIS_SEEDS + n_textures),
                                                         label="procedural albedo basis")])
        mean = texels.mean(axis=0)
        _, singular, components = np.linalg.svd(texels - mean, full_matrices=False)
        np.savez(cache, mean=mean, components=components.astype(np.float32),
                 sigma=singular / np.sqrt(n_textures - 1))
    data = np.load(cache)
    n = min(n_components, len(data["sigma"]))
    return AlbedoModel(data["mean"].reshape(-1, 3), data["components"][:n].astype(np.float64).reshape(n, -1, 3),
                       data["sigma"][:n])


def inner_face_weight(model, raster: UVRaster) -> np.ndarray:
    """Per covered texel: 1 inside the inner face's regions, 0 on the excluded ones (blended at their borders)."""
    return np.clip(_region_share(model, raster, INNER_REGIONS), 0, 1) * (1.0 - np.clip(_region_share(model, raster, EXCLUDED_REGIONS), 0, 1))


def _solve_light(colour: torch.Tensor, albedo: torch.Tensor, sh: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(3, 4) first-order SH light per channel: weighted least squares of colour ≈ albedo · (sh @ light)."""
    lights = []
    for channel in range(3):
        design = albedo[:, channel:channel + 1] * sh
        lhs = design.T @ (design * weight[:, None]) + 1e-9 * torch.eye(4, dtype=design.dtype)
        lights.append(torch.linalg.solve(lhs, design.T @ (colour[:, channel] * weight)))
    return torch.stack(lights)


def photometric_residual(colour, normals, weight, albedo, prior: float) -> torch.Tensor:
    """(N,) squared colour residual after the light, and the albedo's coefficients where it has any, are solved."""
    mean, components, sigma = albedo
    sh = torch.cat([torch.ones(len(colour), 1, dtype=colour.dtype), normals], dim=1)
    texel_albedo = mean
    for _ in range(2 if len(sigma) else 0):
        shade = sh @ _solve_light(colour, texel_albedo, sh, weight).T
        design = (components * shade[None]).reshape(len(sigma), -1).T  # (3N, K)
        weights = weight.repeat_interleave(3)
        lhs = design.T @ (design * weights[:, None]) + prior * torch.diag(1 / sigma**2) * weights.sum() / 3
        coefficients = torch.linalg.solve(lhs, design.T @ ((colour - shade * mean).reshape(-1) * weights))
        texel_albedo = mean + torch.einsum("k,knc->nc", coefficients, components)
    light = _solve_light(colour, texel_albedo, sh, weight)
    return ((colour - texel_albedo * (sh @ light.T)) ** 2).sum(dim=1)


def refine_photometric(model, embedding, fit: LandmarkFit, target: np.ndarray, image: np.ndarray, albedo: AlbedoModel,
                       raster: UVRaster, inner: np.ndarray, settings: StageSettings) -> LandmarkFit:
    """``fit`` refined against the photo's colours and (down-weighted) its landmarks ``target`` (68, 2)."""
    options = FitOptions()
    height, width = image.shape[:2]
    photo = srgb_to_linear(image.astype(np.float64) / 255.0)
    texel_ids = np.flatnonzero(raster.covered.reshape(-1))
    on_grid = np.zeros(raster.covered.shape, bool)
    on_grid[::settings.stride, ::settings.stride] = True
    face_id, bary = raster.face_id.reshape(-1)[texel_ids], raster.bary.reshape(-1, 3)[texel_ids]
    candidates = np.flatnonzero((inner > 0.5) & on_grid.reshape(-1)[texel_ids])

    ids = embedding.landmark_ids()
    landmark_weight = torch.as_tensor(landmark_weights(embedding, options.contour_weight)) * settings.landmark_scale
    target_t = torch.as_tensor(target[None, ids])
    centre = torch.tensor([[width / 2.0, height / 2.0]], dtype=torch.float64)
    focal_prior = float(np.log(options.focal_prior_mm / SENSOR_WIDTH_MM * max(width, height)))
    unknown = lambda a: torch.tensor(np.asarray(a, np.float64)[None], requires_grad=True)  # noqa: E731
    beta, psi, rotation, neck, jaw = (unknown(a) for a in (fit.beta, fit.psi, fit.theta[0:3], fit.theta[3:6], fit.theta[6:9]))
    translation, log_focal = unknown(fit.translation), unknown([np.log(fit.focal_px)])
    parameters = [beta, psi, rotation, neck, jaw, translation, log_focal]

    def theta() -> torch.Tensor:
        return torch.cat([rotation, neck, jaw, torch.zeros(1, POSE_SIZE - 9, dtype=torch.float64)], dim=1)

    def current() -> LandmarkFit:
        with torch.no_grad():
            return replace(fit, beta=beta[0].numpy().copy(), psi=psi[0].numpy().copy(), theta=theta()[0].numpy().copy(),
                           focal_px=float(torch.exp(log_focal[0, 0])), translation=translation[0].numpy().copy())

    subset = _SkinnedSubset(model, embedding, len(fit.beta), len(fit.psi), np.unique(model.faces[face_id[candidates]]))
    for blur in settings.blur_px:
        photo_t = torch.as_tensor(gaussian_filter(photo, (blur, blur, 0))).permute(2, 0, 1)[None]
        now = current()
        posed_now = model.forward(now.beta[None], now.theta[None], now.psi[None])[0]
        _, seen = _seen_colour(photo, now.camera(), posed_now, model.faces, raster)
        keep = candidates[seen[candidates] > settings.min_seen]
        weight = torch.as_tensor(seen[keep] * inner[keep])
        turn = head_turn_deg(now.theta[None])
        step = subset.narrowed(np.r_[subset.landmark_vertices(turn), np.unique(model.faces[face_id[keep]])])
        corners = torch.as_tensor(step.remap[model.faces[face_id[keep]]])
        bary_t = torch.as_tensor(bary[keep])
        albedo_rows = albedo.rows(keep)
        start_residual = []

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            coeffs = torch.cat([beta, psi], dim=1)
            focal = torch.exp(log_focal[:, 0])
            verts = step.posed(coeffs, theta())
            marks = _project(step.landmarks(coeffs, theta(), turn, verts), translation, focal, centre)
            loss = (landmark_weight * _pseudo_huber(((marks - target_t) ** 2).sum(dim=-1), options.robust_px)).sum()
            triangles = verts[0][corners]
            points = torch.einsum("nk,nkd->nd", bary_t, triangles)
            normals = torch.linalg.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
            normals = normals / normals.norm(dim=1, keepdim=True)
            # Outward whatever the winding: away from the posed mesh's centroid.
            normals = normals * torch.sign((normals * (points - verts[0].mean(dim=0))).sum(dim=1, keepdim=True)).detach()
            xy = _project(points[None], translation, focal, centre)[0]
            grid = torch.stack([2 * xy[:, 0] / width - 1, 2 * xy[:, 1] / height - 1], dim=1)[None, None]
            colour = F.grid_sample(photo_t, grid, mode="bilinear", align_corners=False, padding_mode="border")[0, :, 0].T
            residual = photometric_residual(colour, normals, weight, albedo_rows, settings.albedo_prior)
            photometric = (weight * residual).sum() / weight.sum()
            if not start_residual:  # the term is scaled to ``weight`` at the round's start
                start_residual.append(float(photometric.detach()))
            loss = loss + settings.weight * photometric / start_residual[0]
            loss = loss + options.focal_weight * (log_focal[0, 0] - focal_prior) ** 2
            loss = loss + _shape_and_pose_prior(options, coeffs, len(fit.beta), neck, jaw).sum()
            loss.backward()
            return loss

        optimizer = torch.optim.LBFGS(parameters, lr=1.0, max_iter=settings.iterations, line_search_fn="strong_wolfe")
        optimizer.step(closure)
    return current()


def truth_as_fit(model, frame, fit: LandmarkFit) -> LandmarkFit:
    """The frame's true parameters as a fit (its camera's rotation folded into the global one, about the root joint)."""
    camera = frame.camera
    if abs(camera.cx - camera.width / 2) > 1e-6 or abs(camera.cy - camera.height / 2) > 1e-6 or camera.fx != camera.fy:
        raise click.ClickException(f"{frame.image}: a fit's camera cannot hold this one (off-centre or anisotropic)")
    beta, psi = np.zeros_like(fit.beta), np.zeros_like(fit.psi)
    beta[:min(len(beta), len(frame.beta))] = frame.beta[:len(beta)]
    psi[:min(len(psi), len(frame.psi))] = frame.psi[:len(psi)]
    root = model.rest_joints(beta[None], psi[None])[0, 0]
    theta = frame.theta.copy()
    theta[0:3] = (Rotation.from_matrix(camera.rotation) * Rotation.from_rotvec(frame.theta[0:3])).as_rotvec()
    return replace(fit, beta=beta, psi=psi, theta=theta, focal_px=camera.fx,
                   translation=camera.rotation @ root + camera.translation - root)


def _errors(model, embedding, frame, fit: LandmarkFit) -> tuple[float, float, np.ndarray]:
    """Mean distance of the fit's landmarks from the true ones (px), worst rotation error (°), per-point distances."""
    truth = frame.true_landmarks(model, embedding)
    distance = np.linalg.norm(fit_landmarks_in_image(model, embedding, fit) - truth, axis=1)
    return float(np.nanmean(distance)), float(euler_errors_deg(frame, fit).max()), distance


def _describe(error: float, rotation: float, distance: np.ndarray) -> str:
    regions = " ".join(f"{name} {np.nanmean(distance[list(points)]):.1f}" for name, points in LANDMARK_REGIONS.items())
    return f"{error:.2f} px, {rotation:.2f}° ({regions})"


def _summary(label: str, rows: list[tuple[float, float]]) -> str:
    errors, rotations = np.array(rows).T
    return (f"{label}: truth mean {errors.mean():.2f} px, {(errors <= 2).sum()}/{len(errors)} within 2 px; "
            f"worst rotation {rotations.max():.2f}°, {(rotations <= 3).sum()}/{len(rotations)} within 3°")


@click.command()
@click.option("--work", type=click.Path(file_okay=False, exists=True), default="out/fit_accuracy", show_default=True,
              help="fit_accuracy.py's folder of renders.")
@click.option("--set", "set_names", multiple=True, type=click.Choice(["test", "heldout", "heldout2"]),
              help="Only these sets (repeatable) [default: all three].")
@click.option("--albedo", "albedos", multiple=True, type=click.Choice(["own", "procedural"]),
              help="Albedo model (repeatable: side by side) [default: procedural].")
@click.option("--start", type=click.Choice(["fit", "truth"]), default="fit", show_default=True,
              help="Start the stage from params fit's refined fit, or from the true parameters.")
@click.option("--textures", type=click.IntRange(min=2), default=100, show_default=True,
              help="Procedural albedos in the basis.")
@click.option("--components", type=click.IntRange(min=0), default=90, show_default=True,
              help="Principal components of the basis kept.")
@click.option("--weight", type=click.FloatRange(min=0.0), default=StageSettings.weight, show_default=True,
              help="The photometric term at the start, in px² of landmark loss.")
@click.option("--landmark-scale", type=click.FloatRange(min=0.0), default=StageSettings.landmark_scale,
              show_default=True, help="dlib's landmarks' share of params fit's weights.")
def main(work: str, set_names: tuple[str, ...], albedos: tuple[str, ...], start: str, textures: int, components: int,
         weight: float, landmark_scale: float) -> None:
    """Fit fit_accuracy.py's renders with params fit, then with a photometric stage; print both against the truth."""
    torch.set_num_threads(1)
    settings = StageSettings(weight=weight, landmark_scale=landmark_scale)
    albedos = albedos or ("procedural",)
    start_label = "params fit" if start == "fit" else "truth"
    results: dict[str, list] = {start_label: []}
    heads: dict[str, tuple] = {}  # head version → its embedding, UV raster, inner-face weight and procedural basis
    for sub, (_, specs) in _sets().items():
        if set_names and sub not in set_names:
            continue
        folder = Path(work) / sub
        model, version = _head_of_renders(folder)
        if version not in heads:
            raster = rasterize_uv(model.vt, model.ft, APPEARANCE["texture_size"])
            cache = Path(work) / f"albedo_basis_{version.replace(' ', '_')}_{textures}.npz"
            heads[version] = (calibrated_landmark_embedding(model), raster, inner_face_weight(model, raster),
                              procedural_basis(model, raster, textures, components, cache) if "procedural" in albedos else None)
        embedding, raster, inner, basis = heads[version]
        for spec in specs:
            frames = read_known(folder, [spec.seq_id])
            images = [read_rgb(frame.image) for frame in frames]
            targets = np.array([detect_landmarks(image, frame.image).landmarks for image, frame in zip(images, frames)])
            fits = fit_both_stages(model, embedding, targets, images, FitOptions())["refined"]
            models = {name: own_albedo(model, spec.seed, raster) if name == "own" else basis for name in albedos}
            for frame, image, target, fit in zip(frames, images, targets, fits):
                if start == "truth":
                    fit = truth_as_fit(model, frame, fit)
                before = _errors(model, embedding, frame, fit)
                results[start_label].append(before[:2])
                line = f"{sub}/{spec.seq_id}/{frame.image.stem}: {start} {_describe(*before)}"
                for name, albedo in models.items():
                    cpu = time.process_time()
                    after = _errors(model, embedding, frame,
                                    refine_photometric(model, embedding, fit, target, image, albedo, raster, inner, settings))
                    results.setdefault(name, []).append(after[:2])
                    line += f"\n    {name} albedo: {_describe(*after)}, {time.process_time() - cpu:.1f} CPU-s"
                click.echo(line)
    for label, rows in results.items():
        click.echo(_summary(label, rows))


if __name__ == "__main__":
    main()
