"""Understanding what people type: normalisation, intents, entities, redaction."""

from conversations.understanding.intents import INTENTS, Understanding, understand

__all__ = ["INTENTS", "Understanding", "understand"]
