"""``decflow`` command line: train, evaluate, evaluate-landmarks, infer (also ``python -m models.decflow``).

Every error a user can cause — a bad setting, a bad value, a missing or
broken file — ends the command with one line on stderr and a non-zero exit
status, through the console script as through ``python -m``.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ffn_render.errors import FFNError

from .config import RECIPE_SOURCES, RECIPES

ITERS = click.IntRange(min=1)
DATA = click.option("--data", "root", required=True, type=click.Path(path_type=Path), help="Dataset ROOT (SPEC §2 layout).")


class OneLineErrors(click.Group):
    """A group whose usage errors are one line (``Error: …``) instead of usage text, a hint and the error."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report an FFNError as one line on stderr with exit status 1, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FFNError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(cls=OneLineErrors,
             help="DecFlow: decomposed facial optical flow (FacialFlowNet §4) — train, evaluate, evaluate-landmarks, infer.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


_RECIPE_HELP = "; ".join(f"{name}: {source}" for name, source in RECIPE_SOURCES.items())


@main.command(help="Train DecFlow in two stages, or the GMA baseline, on a dataset in the SPEC §2 layout. "
              "The recipe sets what each stage trains, the losses, batch-norm handling, augmentation and "
              "hyperparameters (configs/decflow_{recipe}.yaml spells them out); --config and --set change "
              "single settings on top. Everything is checked before any work. Resumes from "
              "OUT/checkpoints/latest.pth when it exists.")
@DATA
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder: checkpoints, TensorBoard logs.")
@click.option("--recipe", type=click.Choice(list(RECIPES)), default="release", show_default=True,
              help=f"Named set of settings ({_RECIPE_HELP}).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="YAML file of settings applied on top of the recipe (any subset of its keys).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting (YAML value), e.g. --set batch_size=2 --set augment.crop=[256,256].")
@click.option("--model", type=click.Choice(["decflow", "decflow-noenc", "gma"]), default=None,
              help="Model variant (default: the recipe's); gma is the one-decoder baseline.")
@click.option("--init-gma", type=click.Path(path_type=Path), help="Released GMA checkpoint (backbone and facial decoder).")
@click.option("--init", type=click.Path(path_type=Path), help="DecFlow checkpoint (public or ours) to start from.")
@click.option("--dad-encoder", metavar="PATH|imagenet",
              help="Weights of the ResNet-50 semantic trunk: a DAD-3DNet (or DecFlow) checkpoint, or 'imagenet' "
              "for pytorchcv's ImageNet weights from its cache (what the released code uses). Without one, and "
              "without --init weights for it, the trunk is pre-trained on the dataset's face-part segmentation.")
@click.option("--stage", type=click.Choice(["1", "2", "both"]), default="both", show_default=True,
              help="Which stages to run.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--follow", is_flag=True, help="A render is still writing ROOT: skip unfinished sequences, "
              "wait for data, pick up new sequences every epoch.")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/checkpoints/latest.pth.")
@click.option("--dry-run", is_flag=True, help="Check everything and print, per stage, its trainable parameter count, "
              "which modules train and the loss; then exit without training or writing anything.")
@_user_errors
def train(root: Path, out: Path, recipe: str, config_path: Path | None, overrides: tuple[str, ...],
          model: str | None, init_gma: Path | None, init: Path | None, dad_encoder: str | None, stage: str,
          device: str, follow: bool, resume: bool, dry_run: bool) -> None:
    from .config import load_config
    from .train import dry_run as describe_run, train as run_training

    if model is not None:
        overrides = (*overrides, f"model={model}")
    config = load_config(recipe, config_path, overrides)
    stages = None if stage == "both" else (int(stage),)
    if dry_run:
        for line in describe_run(root, config, recipe, init, init_gma, dad_encoder, stages, follow):
            click.echo(line)
        return
    final = run_training(root, out, config, init=init, init_gma=init_gma, dad_encoder=dad_encoder,
                         stages=stages, device=device, follow=follow, resume=resume)
    click.echo(f"final weights: {final}")


@main.command(help="Table 2 of the paper: EPE per motion scale and overall, for facial, head and expression flow, "
              "plus 1/3/5 px accuracy, in two definitions side by side: 'in_mask' (mean over the moving-region "
              "mask) and 'release' (the released evaluator's Σ EPE over the whole image / mask pixel count, the "
              "figure to compare with the paper). Give --checkpoint several times (e.g. DecFlow and the GMA "
              "baseline) for a comparison.")
@DATA
@click.option("--checkpoint", "checkpoints", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Model weights (DecFlow, DecFlow w/o encoder, or GMA; detected from the file).")
@click.option("--split", default="test", show_default=True, help="train, val or test.")
@click.option("--iters", default=12, show_default=True, type=ITERS,
              help="Refinement iterations (the released evaluator's default).")
@click.option("--padding", type=click.Choice(["bottom", "centre"]), default="bottom", show_default=True,
              help="Where padding rows go: bottom (the released evaluator) or split top/bottom.")
@click.option("--precision", type=click.Choice(["auto", "fp16", "fp32"]), default="auto", show_default=True,
              help="auto: float16 autocast on CUDA (the released evaluator), float32 on a CPU.")
@click.option("--out", "out_json", type=click.Path(path_type=Path), help="Write the results as JSON here.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--max-pairs", type=click.IntRange(min=1), help="Evaluate only the first N pairs (quick checks).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0), help="Data-loader worker processes.")
@_user_errors
def evaluate(root: Path, checkpoints: tuple[Path, ...], split: str, iters: int, padding: str, precision: str,
             out_json: Path | None, device: str, max_pairs: int | None, workers: int) -> None:
    from .evaluate import evaluate_checkpoints, format_table
    from .train import resolve_device

    results = evaluate_checkpoints(list(checkpoints), root, split, iters, resolve_device(device), max_pairs,
                                   out_json, workers, padding, precision)
    click.echo(format_table(results), nl=False)
    if out_json is not None:
        click.echo(f"results: {out_json}")


@main.command("evaluate-landmarks",
              help="Table 3 of the paper: flow against landmark (or tracked-vertex) motion on real video, eq. 6 — "
              "per pair, the mean over the points of |(C2 − C1) − Flow(C1)|, the flow sampled bilinearly at C1; "
              "pooled over all points of all pairs, with rows for the 68-point regions. ROOT is CK+ as "
              "distributed (cohn-kanade-images/, Landmarks/; first and last frame of each sequence) or frames/ "
              "with points/ (.txt or .npy, N×2, per frame stem; consecutive frames) or frames/ alone (68 "
              "landmarks detected with dlib). Points are read with the centre of the first pixel at "
              "--pixel-centre (0.5: SPEC §3).")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(path_type=Path),
              help="DecFlow or GMA weights; its facial flow is evaluated (repeatable).")
@click.option("--baselines", default="zero,dis,farneback", show_default=True,
              help="Comma-separated: zero (no motion), dis (OpenCV DIS, preset medium), farneback (OpenCV); '' for none.")
@click.option("--pairs", "pairing", type=click.Choice(["auto", "first-last", "consecutive"]), default="auto",
              show_default=True, help="auto: first-last for CK+, consecutive otherwise.")
@click.option("--pixel-centre", default=0.5, show_default=True, type=float,
              help="Coordinate the point files give the centre of the first pixel (0: 0-based pixel indices, "
              "1: MATLAB 1-based).")
@click.option("--iters", default=12, show_default=True, type=ITERS, help="Refinement iterations of the checkpoints.")
@click.option("--max-pairs", type=click.IntRange(min=1), help="Evaluate only the first N pairs (quick checks).")
@click.option("--json", "out_json", type=click.Path(path_type=Path),
              help='Write {method: {"epe", "pairs", "points", "regions"}} here.')
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@_user_errors
def evaluate_landmarks(root: Path, checkpoints: tuple[Path, ...], baselines: str, pairing: str, pixel_centre: float,
                       iters: int, max_pairs: int | None, out_json: Path | None, device: str) -> None:
    from .checkpoint import load_model
    from .landmarks import BASELINE_METHODS, decflow_method, evaluate_landmarks as run, format_landmark_table, parse_baselines
    from .train import resolve_device

    methods = {name: BASELINE_METHODS[name] for name in parse_baselines(baselines)}
    torch_device = resolve_device(device)
    for path in checkpoints:
        name = path.stem
        while name in methods:
            name += "'"
        methods[name] = decflow_method(load_model(path)[0], iters, torch_device)
    layout, results = run(root, methods, pixel_centre, pairing, max_pairs, out_json)
    click.echo(format_landmark_table(layout, results), nl=False)
    if out_json is not None:
        click.echo(f"results: {out_json}")


@main.command(help="Facial, head and expression flow (.flo + colour-wheel .png) for two images, a folder of "
              "frames (consecutive pairs) or a video.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help="Model weights.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--iters", default=32, show_default=True, type=ITERS, help="Refinement iterations.")
@click.option("--max-flow", type=click.FloatRange(min=0, min_open=True), help="Colour-wheel saturation magnitude in px (default: each image's maximum).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@_user_errors
def infer(inputs: tuple[Path, ...], checkpoint: Path, out: Path, iters: int, max_flow: float | None, device: str) -> None:
    from .checkpoint import load_model
    from .infer import infer as run_inference
    from .train import resolve_device

    model, _ = load_model(checkpoint)
    pairs = run_inference(model, list(inputs), out, iters, resolve_device(device), max_flow)
    click.echo(f"{pairs} pairs written to {out}")
