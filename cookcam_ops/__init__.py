"""cookcam-ops: deploy and verify the CookCam API over SSH."""

__version__ = "0.2.0"  # the one place: pyproject reads it (hatch), `--version` prints it
