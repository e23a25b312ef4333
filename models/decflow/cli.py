"""``decflow`` command line: train, evaluate, infer (also ``python -m models.decflow``)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable

import click

from ffn_render.errors import FFNError


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report an FFNError as one line on stderr with exit status 1, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FFNError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(help="DecFlow: decomposed facial optical flow (FacialFlowNet §4) — train, evaluate, infer.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@main.command(help="Train DecFlow (stage 1: facial decoder; stage 2: head decoder) or the GMA baseline on a "
              "dataset in the SPEC §2 layout. Resumes from OUT/checkpoints/latest.pth when it exists.")
@click.option("--data", "root", required=True, type=click.Path(path_type=Path), help="Dataset ROOT (SPEC §2 layout).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder: checkpoints, TensorBoard logs.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="YAML hyperparameters, e.g. configs/decflow_train.yaml (default: the same values built in).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config setting (YAML value), e.g. --set batch_size=2 --set augment.crop=[256,256].")
@click.option("--model", type=click.Choice(["decflow", "decflow-noenc", "gma"]), default=None,
              help="Model variant (default: the config's); gma is the one-decoder baseline.")
@click.option("--init-gma", type=click.Path(path_type=Path), help="Released GMA checkpoint: backbone and both decoders.")
@click.option("--init", type=click.Path(path_type=Path), help="DecFlow checkpoint (public or ours) to start from.")
@click.option("--dad-encoder", type=click.Path(path_type=Path),
              help="DAD-3DNet (or DecFlow) checkpoint holding the ResNet-50 semantic trunk. Without one, and "
              "without --init weights for it, the trunk is pre-trained on the dataset's face-part segmentation.")
@click.option("--stage", type=click.Choice(["1", "2", "both"]), default="both", show_default=True,
              help="Which stages to run.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--follow", is_flag=True, help="A render is still writing ROOT: skip unfinished sequences, "
              "wait for data, pick up new sequences every epoch.")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/checkpoints/latest.pth.")
@_user_errors
def train(root: Path, out: Path, config_path: Path, overrides: tuple[str, ...], model: str | None,
          init_gma: Path | None, init: Path | None, dad_encoder: Path | None, stage: str, device: str,
          follow: bool, resume: bool) -> None:
    import yaml

    from .train import TrainConfig, train as run_training

    config = TrainConfig.from_yaml(config_path) if config_path else TrainConfig()
    values = _config_dict(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        target = values
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(text)
    if model is not None:
        values["model"] = model
    config = TrainConfig.from_dict(values, str(config_path or "--set"))
    stages = None if stage == "both" else (int(stage),)
    final = run_training(root, out, config, init=init, init_gma=init_gma, dad_encoder=dad_encoder,
                         stages=stages, device=device, follow=follow, resume=resume)
    click.echo(f"final weights: {final}")


def _config_dict(config: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: (_config_dict(v) if dataclasses.is_dataclass(v := getattr(config, f.name)) else v)
            for f in dataclasses.fields(config)}


@main.command(help="Table 2 of the paper: EPE inside the moving-region mask per motion scale and overall, "
              "for facial, head and expression flow, plus 1/3/5 px accuracy. Give --checkpoint several times "
              "(e.g. DecFlow and the GMA baseline) for a comparison.")
@click.option("--data", "root", required=True, type=click.Path(path_type=Path), help="Dataset ROOT (SPEC §2 layout).")
@click.option("--checkpoint", "checkpoints", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Model weights (DecFlow, DecFlow w/o encoder, or GMA; detected from the file).")
@click.option("--split", default="test", show_default=True, help="train, val or test.")
@click.option("--iters", default=32, show_default=True, help="Refinement iterations.")
@click.option("--out", "out_json", type=click.Path(path_type=Path), help="Write the results as JSON here.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--max-pairs", type=int, help="Evaluate only the first N pairs (quick checks).")
@click.option("--workers", default=2, show_default=True, help="Data-loader worker processes.")
@_user_errors
def evaluate(root: Path, checkpoints: tuple[Path, ...], split: str, iters: int, out_json: Path | None,
             device: str, max_pairs: int | None, workers: int) -> None:
    from .evaluate import evaluate_checkpoints, format_table
    from .train import resolve_device

    results = evaluate_checkpoints(list(checkpoints), root, split, iters, resolve_device(device), max_pairs,
                                   out_json, workers)
    click.echo(format_table(results), nl=False)
    if out_json is not None:
        click.echo(f"results: {out_json}")


@main.command(help="Facial, head and expression flow (.flo + colour-wheel .png) for two images, a folder of "
              "frames (consecutive pairs) or a video.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help="Model weights.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--iters", default=32, show_default=True, help="Refinement iterations.")
@click.option("--max-flow", type=float, help="Colour-wheel saturation magnitude in px (default: each image's maximum).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@_user_errors
def infer(inputs: tuple[Path, ...], checkpoint: Path, out: Path, iters: int, max_flow: float | None, device: str) -> None:
    from .checkpoint import load_model
    from .infer import infer as run_inference
    from .train import resolve_device

    model, _ = load_model(checkpoint)
    pairs = run_inference(model, list(inputs), out, iters, resolve_device(device), max_flow)
    click.echo(f"{pairs} pairs written to {out}")
