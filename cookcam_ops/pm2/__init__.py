"""What cookcam-ops reads from PM2: process lists and the kill signal."""
