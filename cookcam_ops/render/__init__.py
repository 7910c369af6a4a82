"""Human rendering (Rich) of command results: tables on stdout, progress on stderr."""
