"""winback: which customers will come back, buy, or drift away, and what to do about it."""

__version__ = "0.1.0"
