"""Vigil's Go-template check agrees with Prometheus' own parser (promtool check rules)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.harness.tools import require
from tests.unit.models.test_policy import TEMPLATES_ACCEPTED, TEMPLATES_REJECTED
from vigil.models.policy import template_problem

# Go prints a "}}" outside an action as text; Vigil refuses it as a lost "{{", and nests
# parentheses 100 deep at most (Go: 10000).
STRICTER = {text for text, problem in TEMPLATES_REJECTED if "outside an action" in problem or "depth" in problem}


def promtool_verdict(text: str, tmp_path: Path) -> str | None:
    """What `promtool check rules` says of ``text`` as an alert's summary: None when it passes."""
    rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "annotations": {"summary": text}}]}]}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [str(require("promtool")), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return None if done.returncode == 0 else done.stdout + done.stderr


@pytest.mark.parametrize("text", TEMPLATES_ACCEPTED)
def test_what_vigil_accepts_promtool_accepts(text: str, tmp_path: Path) -> None:
    assert template_problem(text) is None
    assert promtool_verdict(text, tmp_path) is None


@pytest.mark.parametrize("text", [t for t, _ in TEMPLATES_REJECTED if t not in STRICTER])
def test_what_vigil_rejects_promtool_rejects(text: str, tmp_path: Path) -> None:
    assert template_problem(text) is not None
    verdict = promtool_verdict(text, tmp_path)
    assert verdict is not None, f"promtool accepts {text!r}"
    assert "template" in verdict


# --- differential: generated templates, judged by both ---------------------------------------

ATOMS = ["$value", "$labels.job", "$labels", ".", ".Value", ".Labels.x", '"s"', "`r`", "'c'", "1", "-2", "0x1f"]
ATOMS += ["1e3", "true", "nil", "(humanize $value)", '(printf "%d" 1)', "$x", "$", "$externalURL", "$value.X"]
FUNCTIONS = ["humanize", "printf", "len", "index", "eq", "and", "or", "not", "toUpper", "title", "query", "first"]
FUNCTIONS += ["value", "label", "reReplaceAll", "args", "match", "safeHtml", "humanizeDuration", "nosuch", "print"]


def _action(rng: random.Random) -> str:
    declare = rng.choice(["$x := ", "$y := ", "$x = "]) if rng.random() < 0.15 else ""
    commands = []
    for _ in range(rng.randint(1, 3)):
        words = [rng.choice(FUNCTIONS)] if rng.random() < 0.6 else []
        words += [rng.choice(ATOMS) for _ in range(rng.randint(0, 3))]
        commands.append(" ".join(words))
    return declare + " | ".join(commands)


def generated(rng: random.Random, depth: int = 0) -> str:
    """A random template: actions, control structures (sometimes unclosed), comments, text."""
    out = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.4:
            out.append("{{ " + _action(rng) + " }}")
        elif r < 0.55 and depth < 2:
            keyword = rng.choice(["if", "with", "range"])
            otherwise = rng.choice(
                ["", "{{ else }}" + generated(rng, depth + 1), "{{ else if " + _action(rng) + " }}x"]
            )
            end = "{{ end }}" if rng.random() < 0.9 else ""
            out.append("{{ " + keyword + " " + _action(rng) + " }}" + generated(rng, depth + 1) + otherwise + end)
        elif r < 0.6:
            out.append("{{ break }}")
        elif r < 0.65:
            out.append("{{/* c */}}")
        else:
            out.append(rng.choice(["text ", " ", "a{b}c "]))
    return "".join(out)


SAMPLES = [generated(random.Random(seed)) for seed in range(150)]


def test_the_samples_hold_both_verdicts() -> None:
    verdicts = {template_problem(t) is None for t in SAMPLES}
    assert verdicts == {True, False}


@pytest.mark.parametrize("text", SAMPLES)
def test_vigil_and_promtool_agree_on_generated_templates(text: str, tmp_path: Path) -> None:
    mine = template_problem(text)
    theirs = promtool_verdict(text, tmp_path)
    assert (mine is None) == (theirs is None), f"vigil: {mine}; promtool: {theirs}"
