"""Question answering over council peer-challenge reports, with checked citations."""

from assistant.errors import AssistantError

__all__ = ["AssistantError"]
__version__ = "0.1.0"
