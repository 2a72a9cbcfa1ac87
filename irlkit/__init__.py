"""irlkit: the helper package of the irl-llm compendium (see README.md)."""
__version__ = "0.1.0"
