"""Which FAQ topic a question is about, by likeness to the ways people ask it.

The lexicon's topic patterns are precise but few; the FAQ lists, per topic, the questions people
actually ask (`questions_ja`, `questions_en`). A question no pattern knows is compared with those
by character bigrams, which works without word boundaries, so for Japanese too.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources

from conversations.understanding.normalize import compact

THRESHOLD = 0.55  # Dice similarity of bigram sets; below it, no topic is better than a wrong one
# Question endings and fillers that say nothing about the topic.
_NOISE = re.compile(
    r"って(何|なに|なん)(ですか|だっけ|なの)?|とは(何|なに)?|(です|でしょう|ます)か|教えて(ください)?|"
    r"what('?s| is| are)|how (do|does|can|should) (i|you|it)|can you|please|[?？!！。、,.「」]"
)


def _bigrams(text: str) -> frozenset[str]:
    text = _NOISE.sub("", compact(text))
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


@cache
def _index() -> tuple[tuple[str, frozenset[str]], ...]:
    data = tomllib.loads(resources.files("bot.knowledge").joinpath("faq.toml").read_text("utf-8"))
    index: list[tuple[str, frozenset[str]]] = []
    for topic, entry in data.items():
        phrasings = [entry.get("title_ja", ""), entry.get("title_en", "")]
        phrasings += entry.get("questions_ja", []) + entry.get("questions_en", [])
        index += [(topic, grams) for p in phrasings if (grams := _bigrams(p))]
    return tuple(index)


@cache
def _largest() -> int:
    return max((len(known) for _, known in _index()), default=0)


def best_topic(text: str) -> str | None:
    grams = _bigrams(text)
    if len(grams) < 2:
        return None
    # Dice is at most 2|known| / (|grams| + |known|): past this size no phrasing can reach the
    # threshold, and a long paste need not be compared with every one of them.
    if len(grams) * THRESHOLD > (2 - THRESHOLD) * _largest():
        return None
    best, score = None, 0.0
    for topic, known in _index():
        dice = 2 * len(grams & known) / (len(grams) + len(known))
        if dice > score:
            best, score = topic, dice
    return best if score >= THRESHOLD else None
