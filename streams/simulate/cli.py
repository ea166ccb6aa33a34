"""``distillguard simulate``: a thin click wrapper over :func:`streams.simulate.core.simulate` with rich progress."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.simulate.core import ATTACK_SCENARIOS, DEFAULT_START_MS, SCENARIO_CHOICES, simulate

__all__ = ["simulate_command"]


@click.command("simulate")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Capture file to write (.jsonl.gz or .jsonl), events sorted by ts.",
)
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Labels CSV to write: account_id,label,scenario,group,attack_from_ts.",
)
@click.option(
    "--seed", default=7, show_default=True, type=int, help="RNG seed (same seed → same bytes)."
)
@click.option(
    "--hours", default=12.0, show_default=True, type=float, help="Capture length in hours."
)
@click.option(
    "--scale", default=1.0, show_default=True, type=float, help="Multiplier on account counts."
)
@click.option(
    "--scenario",
    default="all",
    show_default=True,
    type=click.Choice(SCENARIO_CHOICES),
    help="all, benign only, or benign background plus one attack scenario.",
)
@click.option(
    "--start-ms",
    default=DEFAULT_START_MS,
    show_default=True,
    type=int,
    help="Capture start, epoch ms (default 2026-01-01T00:00Z).",
)
@click.option(
    "--corpus-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DISTILLGUARD_CORPUS_DIR",
    help="Prompt corpus directory (<kind>.jsonl); else ../shared/corpus, else the bundled sample.",
)
@click.option("--quiet", is_flag=True, help="No progress bar or summary table.")
def simulate_command(
    out_path: Path,
    labels_path: Path,
    seed: int,
    hours: float,
    scale: float,
    scenario: str,
    start_ms: int,
    corpus_dir: Path | None,
    quiet: bool,
) -> None:
    """Generate a labelled, deterministic capture of benign API traffic and distillation attacks."""
    console = Console(stderr=True, quiet=quiet)
    t0 = time.perf_counter()  # display only; never enters the output
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task("planning", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        try:
            summary = simulate(
                out_path,
                labels_path,
                seed=seed,
                hours=hours,
                scale=scale,
                scenario=scenario,
                start_ms=start_ms,
                corpus_dir=corpus_dir,
                progress=progress,
            )
        except (ValueError, FileNotFoundError) as exc:
            raise click.UsageError(str(exc)) from exc
    table = Table(title=f"{summary.events:,} events, {summary.accounts:,} accounts → {out_path}")
    for col in ("scenario", "label", "accounts", "events"):
        table.add_column(col, justify="right" if col in ("accounts", "events") else "left")
    for name, n_acc in summary.accounts_by_scenario.items():
        label = "attack" if name in ATTACK_SCENARIOS else "benign"
        table.add_row(name, label, f"{n_acc:,}", f"{summary.events_by_scenario.get(name, 0):,}")
    console.print(table)
    console.print(
        f"capture {summary.capture_bytes / 1e6:.1f} MB, labels → {labels_path}, "
        f"corpus {summary.corpus}, {time.perf_counter() - t0:.1f} s"
    )
