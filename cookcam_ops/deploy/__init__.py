"""Deploy and rollback over SSH: playbooks as data, facts, a pure plan, and the engine that runs it.

Services here never print: progress goes to an observer (`observer.DeployObserver`), results come
back as `result.RunResult`-style dataclasses that the renderer (`cookcam_ops.render.deploy`) shows.
"""
