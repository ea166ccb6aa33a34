"""Build the bundled corpus sample ``streams/simulate/data/corpus_sample.jsonl.gz`` from the full corpus.

Stratified per kind over (subset, lang): at most ``--per-kind`` rows per kind, text / raw_text / system
truncated to 1,500 chars, provenance fields kept. Deterministic (seeded, gzip mtime 0).

Run: ``python -m streams.simulate.build_sample --corpus-dir ../shared/corpus``
"""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from pathlib import Path

import click
import orjson

from streams.simulate.corpus import KINDS, SAMPLE_PATH

__all__ = ["build_sample"]

_KEEP = (
    "text",
    "kind",
    "lang",
    "subset",
    "template",
    "system",
    "raw_text",
    "tool_names",
    "source",
    "license",
)
_MAX_CHARS = 1500


def _stratified(rows: list[dict], n: int, rng: random.Random) -> list[dict]:
    """Round-robin over (subset, lang) strata, shuffled within each, until ``n`` rows are taken."""
    strata: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        strata[(str(row.get("subset")), str(row.get("lang")))].append(row)
    for members in strata.values():
        rng.shuffle(members)
    order = sorted(strata)
    out: list[dict] = []
    while len(out) < n and any(strata[k] for k in order):
        for key in order:
            if strata[key] and len(out) < n:
                out.append(strata[key].pop())
    return out


def build_sample(
    corpus_dir: Path, out_path: Path = SAMPLE_PATH, per_kind: int = 300, seed: int = 7
) -> int:
    """Write the sample and return the number of rows."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    for kind in KINDS:
        with open(corpus_dir / f"{kind}.jsonl", "rb") as fh:
            rows = [orjson.loads(line) for line in fh if line.strip()]
        for row in _stratified(rows, per_kind, rng):
            slim = {k: row[k] for k in _KEEP if row.get(k) is not None}
            for k in ("text", "raw_text", "system"):
                if k in slim:
                    slim[k] = str(slim[k])[:_MAX_CHARS]
            lines.append(orjson.dumps(slim))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(out_path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(b"\n".join(lines) + b"\n")
    return len(lines)


@click.command()
@click.option(
    "--corpus-dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Full corpus directory holding <kind>.jsonl files.",
)
@click.option(
    "--out",
    "out_path",
    default=SAMPLE_PATH,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Sample file to write.",
)
@click.option("--per-kind", default=300, show_default=True, type=int, help="Rows kept per kind.")
def main(corpus_dir: Path, out_path: Path, per_kind: int) -> None:
    """Build the bundled, stratified corpus sample."""
    n = build_sample(corpus_dir, out_path, per_kind)
    click.echo(f"{n} rows → {out_path} ({out_path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
