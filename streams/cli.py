"""The ``distillguard`` command line: one entry point, one thin subcommand per job.

Subcommands are imported lazily, so ``distillguard --help`` is instant and a command's
heavy imports (Faust, River, matplotlib) are paid only by that command.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["main"]

#: subcommand name -> "module:attribute" of its click command
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("streams.commands:worker_command", "Run a Faust worker (detection service)."),
    "create-topics": ("streams.commands:create_topics_command", "Create every topic with its configs."),
    "replay": ("streams.commands:replay_command", "Replay a capture onto Kafka, or detect --local."),
    "control": ("streams.commands:control_command", "Flip the enforcement dry-run kill switch live."),
    "simulate": ("streams.simulate:simulate_command", "Write labelled simulated traffic."),
    "evaluate": ("streams.evaluate:evaluate_command", "Score alerts against labels; HTML report."),
    "alerts": ("streams.alerts:alerts_command", "Follow distill-alerts: table, JSON, webhook."),
    "bench": ("streams.bench:bench_command", "Benchmark the topology against the real broker."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target[0].split(":")
        command: Any = getattr(importlib.import_module(module), attr)
        return command


    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Static one-liners: listing commands must not import them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="distillguard")
def main() -> None:
    """distillguard: real-time detection of distillation attacks on LLM APIs."""


if __name__ == "__main__":
    main()
