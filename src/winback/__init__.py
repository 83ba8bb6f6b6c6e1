"""winback: which customers will come back, buy, or drift away, and what to do about it."""

__version__ = "0.1.0"

__all__ = ["Project", "__version__"]


def __getattr__(name: str):
    # `import winback` stays light (the CLI imports it for the version); Project pulls in
    # pandas and the config on first use
    if name == "Project":
        from winback.project import Project

        return Project
    raise AttributeError(f"module 'winback' has no attribute {name!r}")
