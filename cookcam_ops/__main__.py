from cookcam_ops.cli.main import run

run()
