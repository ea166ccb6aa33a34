"""deploy/Dockerfile and .dockerignore, checked the way hadolint and a reviewer would."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        op, _, args = buf.partition(" ")
        out.append((op.upper(), args.strip()))
        buf = ""
    return out


def stages(instrs):
    result: list[list[tuple[str, str]]] = []
    for op, args in instrs:
        if op == "FROM":
            result.append([])
        result[-1].append((op, args))
    return result


@pytest.fixture(scope="module")
def instrs():
    return instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(instrs):
    return stages(instrs)[-1]


def args_of(stage, op):
    return [a for o, a in stage if o == op]


def test_parser_joins_continuations():
    text = "FROM a:1 AS b\n# c\nRUN x \\\n  # inner\n  && y\nUSER 1\n"
    assert instructions(text) == [("FROM", "a:1 AS b"), ("RUN", "x  && y"), ("USER", "1")]


def test_multi_stage_slim_pinned_bases(instrs):
    froms = [a for o, a in instrs if o == "FROM"]
    assert len(froms) >= 2
    for f in froms:
        image = f.split()[0]
        if image in {s.split()[-1] for s in froms if " AS " in s.upper()}:
            continue  # FROM <earlier stage>
        name, _, tag = image.partition(":")
        assert tag and tag != "latest", f"unpinned base image {image}"
        assert name.endswith("python") and "slim" in tag and tag.startswith("3.11"), image
    assert re.search(r"\bAS\s+builder\b", froms[0], re.I)


def test_final_stage_copies_venv_and_runs_non_root(instrs, final):
    assert any("--from=builder" in a and "/opt/venv" in a for a in args_of(final, "COPY"))
    assert not any("build-essential" in a for a in args_of(final, "RUN")), "compilers in runtime image"
    users = args_of(final, "USER")
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # the user exists with uid 10001
    assert any(re.search(r"useradd\b.*--uid 10001\b", a) for a in args_of(final, "RUN"))
    assert user in {"10001", "distillguard"}
    # USER comes after everything that needs root
    last_user = max(i for i, (o, _) in enumerate(final) if o == "USER")
    assert all(o != "RUN" for o, _ in final[last_user:])


def test_runtime_contract(final):
    env = " ".join(args_of(final, "ENV"))
    assert "DISTILLGUARD_DATA_DIR=/var/lib/distillguard" in env
    assert "DISTILLGUARD_WEB_HOST=0.0.0.0" in env
    assert "/opt/venv/bin" in env
    volumes = " ".join(args_of(final, "VOLUME"))
    assert "/var/lib/distillguard" in volumes
    assert "6066" in " ".join(args_of(final, "EXPOSE")).split()
    assert json.loads(args_of(final, "ENTRYPOINT")[-1]) == ["distillguard"]
    assert json.loads(args_of(final, "CMD")[-1]) == ["worker"]
    # the data dir is created and owned by the runtime user
    assert any("/var/lib/distillguard" in a and "chown 10001" in a for a in args_of(final, "RUN"))


def test_healthcheck_hits_ready(final):
    (hc,) = args_of(final, "HEALTHCHECK")
    assert "CMD" in hc
    assert "/ready" in hc and "6066" in hc
    assert "--start-period" in hc  # table recovery takes a while
    # exec form: the command is valid JSON after CMD and a valid Python one-liner
    cmd = json.loads(hc[hc.index("CMD") + 3:].strip())
    assert cmd[:2] == ["python", "-c"]
    compile(cmd[2], "<healthcheck>", "exec")


def test_pip_installs_pinned_and_cacheless(instrs):
    pip_runs = [a for o, a in instrs if o == "RUN" and "pip install" in a]
    assert pip_runs
    for run in pip_runs:
        for cmd in re.split(r"&&|;", run):
            if "pip install" in cmd:
                assert "--no-cache-dir" in cmd, cmd
                assert "-c constraints.txt" in cmd, cmd
    assert any("constraints.txt" in a for o, a in instrs if o == "COPY")


def test_no_remote_add_or_latest(instrs):
    for op, args in instrs:
        assert not (op == "ADD" and re.search(r"https?://", args)), "ADD with a URL"
        assert not re.search(r":latest\b", args), args
    for op, args in instrs:
        if op == "RUN" and "apt-get install" in args:
            assert "--no-install-recommends" in args
            assert "rm -rf /var/lib/apt/lists" in args


def test_requirements_extraction_matches_pyproject(instrs, tmp_path):
    """The RUN step that turns pyproject.toml into requirements.txt works on the real file."""
    run = next(a for o, a in instrs if o == "RUN" and "tomllib" in a)
    py_cmd = run.split(">", 1)[0]
    argv = shlex.split(py_cmd)
    assert argv[:2] == ["python", "-c"]
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    out = subprocess.run([sys.executable, "-c", argv[2]], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.split()
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert out == [d.replace(" ", "") for d in deps] or out == deps
    assert any(d.startswith("faust-streaming") for d in out)


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[: i + 1]), pat) for i in range(len(parts)))
        hit = hit or fnmatch.fnmatch(path, pat.replace("**/", ""))
        if hit:
            ignored = not neg
    return ignored


def test_dockerignore(instrs):
    patterns = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    for heavy in (".git", ".venv", ".cache", ".kafka", "tests"):
        assert _ignored(heavy, patterns), heavy
    # everything the Dockerfile copies from the context is present and not ignored
    for op, args in instrs:
        if op != "COPY" or "--from=" in args:
            continue
        for src in args.split()[:-1]:
            if src.startswith("--"):
                continue
            matches = list(REPO.glob(src))
            if src == "README.m[d]":  # optional on purpose
                continue
            assert matches, f"COPY source {src} missing"
            assert not _ignored(src, patterns), f"COPY source {src} excluded by .dockerignore"


def test_hadolint_if_available():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed")
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
