"""run: the only stage with side effects. Executes a build folder's plan.json, step by step.

Modules, one job each:

- `errors`   the user-facing error type (a message and a `help:` line, never a traceback)
- `plandoc`  reads plan.json into typed steps and resolves `${VAR}` paths like the scripts do
- `digest`   cheap digests of input files and folders, sha256 cached by (path, size, mtime_ns)
- `store`    the content-addressed step store: temporary folders, promotion, completion records
- `state`    run keys and each step's state (done / stale / missing) with the reason
- `lock`     one build at a time per build folder (flock, holder written in the file)
- `progress` what the user sees while steps run (plain lines for CI, a rich live panel on a TTY)
- `runner`   runs the selected steps as subprocesses, with logs, and records completion
- `doctor`   preflight checks of this host: tools, release line, GPUs, disk

Nothing here imports a later stage; the CLI (`compiler.cli.build`) wires them together.
"""
