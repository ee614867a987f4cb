"""What both adapters do to a text before a platform shows it."""

from __future__ import annotations

import re

from conversations.understanding.normalize import printable

# "@" starting a word ("@here", "@channel", "@admin"), not inside an address: a platform would
# read it as a mention and notify people.
_AT_WORD = re.compile(r"(?<![\w.%+\-@])@(?=\w)")


def inert(text: str) -> str:
    """`text` with no mention a platform would act on (an invisible word joiner after an "@"
    that starts a word) and no lone surrogate (U+FFFD instead: it is not UTF-8)."""
    return _AT_WORD.sub("@\u2060", printable(text))
