"""grader: an auto-grader for Jupyter programming assignments."""

__version__ = "0.1.0"
