"""The pre-deploy checklist: the local half, the server half, and their judgments."""
