"""cookcam-ops: deploy and verify the CookCam API over SSH."""

__version__ = "0.1.0"
