"""How well the bot understands: accuracy per intent on labelled utterance sets.

The test set is held out: patterns are written from the domain and checked on the dev set, and
the test set only measures them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from conversations.understanding.intents import understand


@dataclass
class Accuracy:
    name: str
    total: int = 0
    correct: int = 0
    per_intent: dict[str, tuple[int, int]] = field(default_factory=dict)  # intent -> (ok, n)
    symptom_ok: int = 0
    symptom_n: int = 0
    topic_ok: int = 0
    topic_n: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.name,
            "utterances": self.total,
            "intent_accuracy": round(self.rate, 4),
            "per_intent": {
                k: {"correct": ok, "total": n} for k, (ok, n) in self.per_intent.items()
            },
            "symptom_accuracy": round(self.symptom_ok / self.symptom_n, 4)
            if self.symptom_n
            else None,
            "topic_accuracy": round(self.topic_ok / self.topic_n, 4) if self.topic_n else None,
        }


def default_sets() -> list[Path]:
    data = resources.files("conversations").joinpath("data")
    names = ("dev", "dev2", "dev3", "test")
    return [Path(str(data.joinpath(f"utterances-{name}.jsonl"))) for name in names]


def evaluate(path: Path) -> Accuracy:
    result = Accuracy(path.stem)
    ok_by: Counter[str] = Counter()
    n_by: Counter[str] = Counter()
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        got = understand(item["text"], item.get("step"))
        want = item["intent"]
        n_by[want] += 1
        result.total += 1
        if got.intent == want:
            ok_by[want] += 1
            result.correct += 1
        else:
            result.errors.append({"text": item["text"], "want": want, "got": got.intent})
        if want in ("report_problem",) or item.get("symptom"):
            result.symptom_n += 1
            result.symptom_ok += got.symptom == item.get("symptom")
        if want == "ask_question":
            result.topic_n += 1
            result.topic_ok += got.topic == item.get("topic")
    result.per_intent = {k: (ok_by[k], n_by[k]) for k in sorted(n_by)}
    return result


def format_table(acc: Accuracy) -> str:
    lines = [f"{acc.name}: {acc.correct}/{acc.total} = {acc.rate:.1%} intent accuracy"]
    for intent, (ok, n) in acc.per_intent.items():
        lines.append(f"  {intent:16} {ok:4}/{n:<4} {ok / n:6.1%}")
    extra = (("symptom", acc.symptom_ok, acc.symptom_n), ("topic", acc.topic_ok, acc.topic_n))
    for name, ok, n in extra:
        if n:
            lines.append(f"  {name:16} {ok:4}/{n:<4} {ok / n:6.1%}")
    return "\n".join(lines)
