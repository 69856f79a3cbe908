"""The one error type a user sees as it is."""


class UserError(Exception):
    """An expected failure whose message is one clear sentence for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
