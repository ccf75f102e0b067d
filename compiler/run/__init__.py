"""run: the only stage with side effects. Executes a build folder's plan.json, step by step.

Modules, one job each:

- `errors`    run-stage Findings (B codes, registered in compiler/rules/build.py) and BuildError, their carrier
- `plandoc`   reads plan.json through compiler/plan/document.py and resolves `${VAR}` paths like the scripts do
- `folder`    the build folder under its lock; compile's files replaced recoverably (staged, journaled, swapped)
- `digest`    cheap digests of input files and folders, sha256 cached by (path, size, mtime_ns)
- `store`     the content-addressed step store: temporary folders, promotion, completion records
- `manifest`  output manifests and script digests, and what changed since a step was built
- `state`     run keys and each step's state (done / stale / missing) with the reason
- `lock`      one build at a time per build folder (flock, holder written in the file)
- `processes` each step in its own session (and cgroup v2): stopping all of it, and what interrupted runs left
- `progress`  what the user sees while steps run (plain lines for CI, a rich live panel on a TTY)
- `runner`    runs the selected steps as subprocesses, with logs, and records completion
- `doctor`    preflight checks of this host: tools, release, GPUs, disk

Nothing here imports a later stage; the CLI (`compiler.cli.build`) wires them together.
"""
