"""The command-line layer: thin commands that parse options, call one service, render."""
