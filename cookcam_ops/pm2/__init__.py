"""What cookcam-ops reads from PM2: process lists, the kill signal, the ecosystem file and what
applying it takes, PM2's own log, and what brings it back after a reboot (boot unit, saved list)."""
