"""The one exception type users can cause and fix."""


class AssistantError(Exception):
    """A problem the user can fix: the message says what went wrong and what to do."""
