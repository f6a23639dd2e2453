"""Error types that mark a user's input as wrong (the CLIs exit with code 2 on them)."""


class UsageError(ValueError):
    """Bad user input: a flag, config field, file or checkpoint. The message says what to do."""


class DataNotFoundError(UsageError):
    """A dataset could be found neither locally nor through tensorflow-datasets."""
