"""Load the public prompt corpus (full one when present, else the bundled sample).

Lookup order for the directory holding ``<kind>.jsonl`` files:
``corpus_dir`` argument → ``$DISTILLGUARD_CORPUS_DIR`` → ``<repo>/../shared/corpus`` →
the bundled ``streams/simulate/data/corpus_sample.jsonl.gz``. Prompt text is truncated to
:data:`MAX_PROMPT_CHARS` characters and system prompts to :data:`MAX_SYSTEM_CHARS`.
"""

from __future__ import annotations

import gzip
import os
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

__all__ = [
    "KINDS",
    "MAX_PROMPT_CHARS",
    "MAX_SYSTEM_CHARS",
    "SAMPLE_PATH",
    "Corpus",
    "CorpusRow",
    "load_corpus",
    "resolve_corpus_source",
]

KINDS = (
    "benign",
    "reasoning",
    "rubric",
    "selfinstruct",
    "coding",
    "tooluse",
    "analysis",
    "computeruse",
)
MAX_PROMPT_CHARS = 2000
MAX_SYSTEM_CHARS = 1500
SAMPLE_PATH = Path(__file__).with_name("data") / "corpus_sample.jsonl.gz"
_REPO_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


@dataclass(frozen=True, slots=True)
class CorpusRow:
    """One public prompt: ``text`` (truncated), its kind/lang, optional wrapper metadata."""

    text: str
    kind: str
    lang: str
    subset: str
    system: str | None
    raw_text: str | None
    template: str | None
    tool_names: tuple[str, ...]


class Corpus:
    """Rows grouped by kind, and benign rows grouped by language."""

    def __init__(self, rows: list[CorpusRow], origin: str) -> None:
        self.origin = origin
        by_kind: dict[str, list[CorpusRow]] = defaultdict(list)
        for row in rows:
            by_kind[row.kind].append(row)
        missing = [k for k in KINDS if not by_kind.get(k)]
        if missing:
            raise ValueError(f"corpus at {origin} has no rows of kind(s) {missing}")
        self.by_kind: dict[str, tuple[CorpusRow, ...]] = {k: tuple(v) for k, v in by_kind.items()}
        by_lang: dict[str, list[CorpusRow]] = defaultdict(list)
        for row in self.by_kind["benign"]:
            by_lang[row.lang].append(row)
        self.benign_by_lang: dict[str, tuple[CorpusRow, ...]] = {
            k: tuple(v) for k, v in by_lang.items()
        }
        self._concat: dict[tuple[str, ...], tuple[CorpusRow, ...]] = {}
        hard = tuple(r for r in self.by_kind["benign"] if r.subset.startswith("arena-hard"))
        #: Hard technical asks (Arena-Hard rows), or all benign rows when the corpus has none.
        self.hard_benign: tuple[CorpusRow, ...] = hard or self.by_kind["benign"]

    def kind(self, kind: str) -> tuple[CorpusRow, ...]:
        """All rows of ``kind``."""
        return self.by_kind[kind]

    def kinds(self, kinds: tuple[str, ...]) -> tuple[CorpusRow, ...]:
        """Rows of several kinds, concatenated (cached)."""
        got = self._concat.get(kinds)
        if got is None:
            got = self._concat[kinds] = tuple(r for k in kinds for r in self.by_kind[k])
        return got

    def benign_in(self, lang: str) -> tuple[CorpusRow, ...]:
        """Benign rows in ``lang``; English when fewer than 5 rows exist in that language."""
        rows = self.benign_by_lang.get(lang, ())
        return rows if len(rows) >= 5 else self.benign_by_lang["en"]


def _row(obj: dict) -> CorpusRow:
    system = obj.get("system")
    raw = obj.get("raw_text")
    return CorpusRow(
        text=str(obj["text"])[:MAX_PROMPT_CHARS],
        kind=str(obj["kind"]),
        lang=str(obj.get("lang") or "en"),
        subset=str(obj.get("subset") or ""),
        system=str(system)[:MAX_SYSTEM_CHARS] if system else None,
        raw_text=str(raw)[:MAX_PROMPT_CHARS] if raw else None,
        template=obj.get("template"),
        tool_names=tuple(obj.get("tool_names") or ()),
    )


def resolve_corpus_source(corpus_dir: str | Path | None = None) -> Path:
    """The directory (full corpus) or gz file (bundled sample) the simulator will read."""
    if corpus_dir is not None:
        cand = Path(corpus_dir)
        if cand.is_file() or (
            cand.is_dir() and all((cand / f"{k}.jsonl").is_file() for k in KINDS)
        ):
            return cand
        raise FileNotFoundError(
            f"corpus_dir {corpus_dir} is neither a corpus file nor a directory of "
            f"{', '.join(k + '.jsonl' for k in KINDS)}"
        )
    candidates: list[Path] = []
    env = os.environ.get("DISTILLGUARD_CORPUS_DIR")
    if env:
        candidates.append(Path(env))
    candidates.append(_REPO_CORPUS)
    for cand in candidates:
        if cand.is_dir() and all((cand / f"{k}.jsonl").is_file() for k in KINDS):
            return cand
        if cand.is_file():
            return cand
    return SAMPLE_PATH


@lru_cache(maxsize=4)
def _load(source: Path) -> Corpus:
    rows: list[CorpusRow] = []
    if source.is_dir():
        for kind in KINDS:
            with open(source / f"{kind}.jsonl", "rb") as fh:
                rows.extend(_row(orjson.loads(line)) for line in fh if line.strip())
    else:
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rb") as fh:
            rows.extend(_row(orjson.loads(line)) for line in fh if line.strip())
    return Corpus(rows, str(source))


def load_corpus(corpus_dir: str | Path | None = None) -> Corpus:
    """Load (and cache) the corpus found by :func:`resolve_corpus_source`."""
    return _load(resolve_corpus_source(corpus_dir))
