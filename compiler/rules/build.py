"""B codes: problems of a build folder, a run and the build host (`build`, `status`, `doctor`, `compile`).

These have no check function: compiler/run (and plan.json's reader, compiler/plan/document.py)
report them as Findings while they work. They are registered here so that `explain` and
docs/rules.md cover every code. B1xx: the build folder and its plan.json; B2xx: running
steps; B3xx: outputs and scripts changed after the fact; B4xx: the host (doctor).
"""

from __future__ import annotations

from compiler.findings import Severity
from compiler.rules import Rule, register

_BUILD = "# trtdeploy build build/llama-7b-fp8-h100\n"
_STATUS = "# trtdeploy status build/llama-7b-fp8-h100\n"
_DOCTOR = "# trtdeploy doctor specs/llama-7b-fp8-h100.yaml\n"


def _run(code: str, name: str, summary: str, why: str, bad: str, good: str, hint: str,
         severity: Severity = Severity.ERROR) -> None:
    register(Rule(code, name, severity, summary, why, bad, good, hint, stage="run"))


# ---------------------------------------------------------------- B1xx: the build folder and plan.json

_run("B100", "build-target-missing", "The spec or build folder named on the command line does not exist.",
     "build, status and doctor take a spec file or a folder written by `trtdeploy compile`; a typo must not "
     "create an empty folder.", "# trtdeploy status build/lama-7b\n", "# trtdeploy status build/llama-7b\n",
     "check the path; `trtdeploy compile SPEC -o DIR` writes a build folder")
_run("B101", "plan-json-missing", "The build folder has no plan.json.",
     "plan.json is the runner's only input: without it there is nothing to run.",
     "# build/x/ holds store/ and logs/ but no plan.json\n", "# trtdeploy compile specs/x.yaml -o build/x\n",
     "compile the spec into the folder again (`trtdeploy compile SPEC -o DIR`), or pass the spec to build")
_run("B102", "plan-json-unreadable", "plan.json cannot be read: not UTF-8 JSON, nested too deep, or a key twice.",
     "A document that does not parse cannot be trusted in part; a key written twice would let a reviewer see one "
     "value while the runner uses the other.", '{"steps": [], "steps": [{"id": "x"}]}\n',
     '{"schema_version": 1, "name": "x", "tensorrt_llm": {"version": "1.2.0"}, "steps": []}\n',
     "recompile the build folder; plan.json is written by `trtdeploy compile`, not by hand")
_run("B103", "plan-schema-version-unsupported", "plan.json has a schema_version this trtdeploy does not read.",
     "A newer or older document may mean something else by the same keys; running it could run the wrong thing.",
     '{"schema_version": 2}\n', '{"schema_version": 1}\n',
     "recompile with this trtdeploy, or run the folder with the trtdeploy that compiled it")
_run("B104", "plan-json-malformed", "A key of plan.json is missing, unknown, or of the wrong type.",
     "The runner acts on plan.json as it is; a wrong type (`\"inputs\": 5`) or an unknown key must stop it with "
     "the key's place, not a traceback, and never be ignored.",
     '{"steps": [{"id": "quantize", "inputs": 5}]}\n', '{"steps": [{"id": "quantize", "inputs": []}]}\n',
     "recompile the build folder instead of editing plan.json")
_run("B105", "step-id-invalid", "A step id is not a safe name (letters, digits, _ . -), or two steps share it.",
     "Step ids become file names (steps/NN-<id>.sh, logs/NN-<id>.log, store/<id>-...): a '/' or '..' would "
     "reach outside the build folder, and two steps with one id would share their records.",
     '{"steps": [{"id": "build"}, {"id": "build"}]}\n', '{"steps": [{"id": "quantize"}, {"id": "build"}]}\n',
     "recompile the build folder; ids come from the planner")
_run("B106", "step-output-not-confined", "A step's output is not its own single store/<id>-<fingerprint> folder.",
     "The runner renames each step's finished output into place: an output outside the store, or one that is "
     "another step's folder, would overwrite what that step built.",
     '{"id": "build", "outputs": ["store/quantize-5fb8126d24de7351"]}\n',
     '{"id": "build", "outputs": ["store/build-d148687edcf0adc7"]}\n',
     "recompile the build folder; outputs come from the planner")
_run("B107", "step-dependency-invalid", "depends_on names a step that is not earlier, or a step input is not "
     "inside the output of a step it depends on.",
     "Steps run in plan order; reading a later step's output, or one not declared, would read a stale folder "
     "and leave the run key blind to it.", '{"id": "quantize", "depends_on": ["build"]}\n',
     '{"id": "build", "depends_on": ["quantize"]}\n', "recompile the build folder")
_run("B108", "step-script-path-invalid", "A step's script is not steps/NN-<id>.sh.",
     "The runner runs `bash <script>` in the build folder; any other path could run a file outside steps/.",
     '{"id": "build", "script": "/bin/sh"}\n', '{"id": "build", "script": "steps/02-build.sh"}\n',
     "recompile the build folder")
_run("B109", "step-script-missing", "A step to run has no script in steps/.",
     "plan.json and steps/ are written together; a missing script means the folder was damaged or copied in part.",
     "# steps/02-build.sh deleted\n", "# trtdeploy compile specs/x.yaml -o build/x\n",
     "recompile the build folder with `trtdeploy compile SPEC -o DIR`")
_run("B110", "build-folder-not-replaceable", "The folder to compile into exists and is not a build folder.",
     "compile replaces the generated files of a build folder; a folder of other files (or a file) is refused "
     "rather than mixed with them.", "# trtdeploy compile specs/x.yaml -o ~/thesis\n",
     "# trtdeploy compile specs/x.yaml -o build/x\n", "pass another folder with -o, or remove that one")
_run("B111", "build-folder-unwritable", "The build folder, its store, logs or state (.trtdeploy/) cannot be written.",
     "A build writes logs, outputs, completion records and its digest cache; a full disk or a folder owned by "
     "another user must stop it with the path, not a traceback.", "# chmod a-w build/x/.trtdeploy\n",
     "# the build folder is writable by the user who builds\n",
     "check free space and permissions on the path named")
_run("B112", "interrupted-compile", "A compile into the build folder was interrupted while it replaced the files.",
     "compile swaps the generated files under the build lock, guided by a journal in .trtdeploy/compile/; the "
     "next command that takes the lock completes the swap (or drops a half-staged one), so the folder, its store, "
     "logs and state are never lost.", "# kill -9 of `trtdeploy compile` while it writes build/x\n",
     "# the next `trtdeploy build build/x` completes it\n",
     "run `trtdeploy build DIR` or `trtdeploy compile` again: it completes the interrupted compile",
     Severity.WARNING)
_run("B113", "spec-not-buildable", "`trtdeploy build SPEC` found errors in the spec, or nothing to plan.",
     "Nothing is built from a spec with errors; its findings are printed above this one.",
     "parallelism: {tp: 3}\n", "parallelism: {tp: 2}\n", "fix the findings (`trtdeploy check SPEC`) and run again")

# ---------------------------------------------------------------- B2xx: running steps

_run("B201", "build-folder-locked", "Another build (or compile, or --clean) holds the build folder's lock.",
     "Two runners on one folder would promote into the same store; the lock is held for a whole run and "
     "released by the kernel when its holder dies, however it dies.", _BUILD + "# ... while another build runs\n",
     _BUILD, "wait for that build to finish, or stop it; a build that dies releases the lock by itself")
_run("B202", "unknown-step", "--only, --from or --force names a step the plan does not have.",
     "A misspelt step id would otherwise select nothing.", "# trtdeploy build build/x --force buidl\n",
     "# trtdeploy build build/x --force build\n", "use one of the step ids the message lists")
_run("B203", "step-selection-conflict", "--only and --from are both given, or --force names a step outside them.",
     "The selection would be ambiguous.", "# trtdeploy build build/x --only build --from quantize\n",
     "# trtdeploy build build/x --only build\n", "pick one of --only and --from; --force only selected steps")
_run("B204", "selected-step-reads-unbuilt", "A step selected with --only or --from reads a step that is not built.",
     "The selected step would read a missing or stale output.", "# trtdeploy build build/x --only build\n",
     "# trtdeploy build build/x\n", "build the step it reads first, or include it in the selection")
_run("B205", "step-input-missing", "A model, calibration or checkpoint input of a step does not exist on this host.",
     "Inputs are digested into each step's run key before anything runs, so a missing model stops the build "
     "before hours of work rather than in the middle.", "# MODEL_DIR=/models/llama-7b-hf, which is not there\n",
     "# TRTDEPLOY_MODEL_DIR=/data/llama-7b-hf trtdeploy build build/x\n",
     "set TRTDEPLOY_MODEL_DIR (or fix the path in the spec and recompile)")
_run("B206", "step-input-unreadable", "An input of a step exists but cannot be read.",
     "Its digest cannot be taken, so the step cannot be known to be up to date.", "# chmod 000 /models/x/config.json\n",
     "# readable by the user who builds\n", "check its permissions")
_run("B207", "input-variable-unavailable", "An input path needs a variable that has no value here.",
     "The scripts read MODEL_DIR and EXAMPLES_DIR from the environment when the plan has no default.",
     "# a plan compiled without model.path, TRTDEPLOY_MODEL_DIR unset\n",
     "# TRTDEPLOY_MODEL_DIR=/models/x trtdeploy build build/x\n", "set the environment variable the message names")
_run("B208", "step-failed", "A step's process failed (non-zero exit, a signal) or wrote nothing to its output.",
     "The build stops at the first failure; steps finished before it stay built and are skipped next time.",
     "# trtllm-build exits 1\n", "# trtllm-build exits 0 and writes the engine\n",
     "read the log's last lines printed above, fix the cause and run the build again")
_run("B210", "step-processes-left-running", "Processes of a step outlived it, or an interrupted run of it.",
     "Each step runs in its own session (and its own cgroup where cgroup v2 is writable); a worker it forked must "
     "not keep writing while the step is retried, so the runner stops the whole group first.",
     "# a step forks a worker, then the runner is killed with SIGKILL\n",
     "# the next build stops the worker before it retries the step\n",
     "nothing to do when they were stopped; otherwise stop the processes named, then build again",
     Severity.WARNING)
_run("B211", "verify-gate-failed", "A verify gate failed: the figure a verify step measured is on the wrong side "
     "of its threshold, or nothing measured it.",
     "The spec's verify: gates are the deployment's acceptance test: `trtdeploy build` runs the verify steps, writes "
     "every figure and verdict into DIR/results.json and exits 1 when a gate fails, naming it and by how much, so a "
     "build that loses accuracy or speed does not ship. The steps' outputs stay in the store; a later build re-runs "
     "nothing that did not change.",
     "# verify: {accuracy: [{task: mmlu, min_score: 45}]}\n# verify gate mmlu.min_score failed: score 44.1 points "
     "is 0.9 below its threshold 45\n",
     "# verify: all 1 gate passed\n",
     "fix the deployment (another format, calibration), or change the gate in the spec if it is wrong")
_run("B212", "verify-output-unreadable", "A verify step's output, or results.json, does not hold what the tool "
     "prints when it succeeds.",
     "Each verify tool prints its figures in a known form (trtllm-eval's 'MMLU weighted average accuracy:', "
     "trtllm-bench's PERFORMANCE OVERVIEW, gptSessionBenchmark's [BENCHMARK] line); an output without them (a tool "
     "that printed nothing, a benchmark batch that ran out of memory) has no result, and the gates on it fail.",
     "# [BENCHMARK] batch_size 64 input_length 2048 output_length 1024 latency(ms) N/A tokensPerSec N/A\n",
     "# [BENCHMARK] batch_size 8 input_length 128 output_length 256 latency(ms) 3355.52 tokensPerSec 610.34\n",
     "read the step's log, fix the cause (a smaller batch, say) and run the step again with --force")

# ---------------------------------------------------------------- B3xx: changed after the fact

_run("B301", "step-output-modified", "A file of a built step's output was edited, deleted or added after it was built.",
     "Each completion record lists the output's files with size, mtime and sha256: `status` and `build` compare "
     "sizes and mtimes (hashing a file only when those moved), `--verify` every digest. A changed output is "
     "stale, so the build runs the step again instead of shipping it.",
     "# rm build/x/store/build-d148687edcf0adc7/rank0.engine\n", "# outputs are changed only by building\n",
     "run `trtdeploy build DIR` to build the step again", Severity.WARNING)
_run("B302", "step-script-modified", "A step's script differs from the one compile wrote, or from the one that built "
     "its output.",
     "plan.json records each script's sha256 and each completion record the script that ran: an edited script "
     "makes its step stale, and the runner refuses to run it (even with --force), since it is not the reviewed plan.",
     "# vi build/x/steps/02-build.sh\n", "# change the spec and `trtdeploy compile` again\n",
     "recompile the build folder (`trtdeploy compile SPEC -o DIR`) to get the scripts of the plan back")

# ---------------------------------------------------------------- B4xx: the build host (doctor)

_run("B401", "tensorrt-llm-not-importable", "python3 on PATH cannot import tensorrt_llm.",
     "Every quantize, convert and build step runs TensorRT-LLM's tools with the python3 the scripts find first.",
     _DOCTOR + "# FAIL: No module named 'tensorrt_llm'\n", "# run in the release container of the target version\n",
     "install the release the plan targets (the message says how), or run in its container")
_run("B402", "tensorrt-llm-release-mismatch", "The installed TensorRT-LLM is another release than the plan's.",
     "Flags and defaults differ between releases: the scripts were written for the plan's exact release.",
     _DOCTOR + "# 1.2.0 installed, the plan targets 0.16.0\n", "target: {tensorrt_llm: '1.2.0'}\n",
     "install the plan's release, or set target.tensorrt_llm to the installed one and recompile")
_run("B403", "trtllm-build-not-on-path", "trtllm-build is not on PATH.",
     "Engine build steps run it by name.", _DOCTOR, "# the tensorrt_llm package puts trtllm-build on PATH\n",
     "install tensorrt_llm (it provides trtllm-build)")
_run("B404", "python-module-missing", "A Python package a step needs (ModelOpt, GPTQModel) is not importable.",
     "quantize.py needs ModelOpt; GPTQ steps need GPTQModel.", _DOCTOR + "# FAIL modelopt\n",
     "# pip install nvidia-modelopt[torch]\n", "install the package the message names")
_run("B405", "examples-script-missing", "An examples script a step runs is not under EXAMPLES_DIR.",
     "quantize.py and convert_checkpoint.py come from TensorRT-LLM's examples/ folder of the same release.",
     _DOCTOR + "# /app/tensorrt_llm/examples/quantization/quantize.py does not exist\n",
     "# TRTDEPLOY_EXAMPLES_DIR=/opt/TensorRT-LLM/examples\n",
     "set TRTDEPLOY_EXAMPLES_DIR (or target.examples_dir) to the release's examples folder")
_run("B406", "mpirun-missing", "mpirun is not on PATH (the launch needs it; the build does not).",
     "launch/mpirun.sh starts one rank per GPU with Open MPI.", _DOCTOR + "# warn mpirun\n",
     "# apt-get install openmpi-bin\n", "install Open MPI (the release containers have it)", Severity.WARNING)
_run("B407", "gpu-not-seen", "No NVIDIA GPU is seen (NVML or nvidia-smi).",
     "A TensorRT engine is built on the GPU it will run on.", _DOCTOR + "# no NVIDIA GPU seen\n",
     "# a host with the target GPUs and the NVIDIA driver\n", "run the build on a host with the plan's GPUs")
_run("B408", "gpu-model-mismatch", "The GPUs of this host are not the model the plan targets.",
     "An engine runs only on the GPU model (compute capability) it was built for.",
     _DOCTOR + "# an H100 host, target.gpu: A10\n", "# an A10 host, target.gpu: A10\n",
     "build on a host with the target GPUs, or change target.gpu / build.gpu and recompile")
_run("B409", "gpu-count-short", "Fewer usable GPUs than the build needs (tp x pp, capped by build.gpus).",
     "Each rank's engine is built on its own GPU.", _DOCTOR + "# CUDA_VISIBLE_DEVICES=0 with tp 2\n",
     "# both GPUs visible\n", "make the GPUs visible, or set build.gpus and recompile")
_run("B410", "disk-space-short", "The disk of the build folder has less free space than the steps still to run need.",
     "A checkpoint or engine that does not fit fails after hours of work.", _DOCTOR + "# 10 GiB free, 130 GiB needed\n",
     "# enough free space\n", "free space, or build into a folder on a larger disk (-o DIR); `--clean` frees old outputs")
_run("B411", "gpu-not-in-catalog", "The plan's GPU is not in this trtdeploy's catalog, so the GPUs seen were not compared.",
     "The comparison needs the catalog's compute capability and memory.", _DOCTOR, _DOCTOR,
     "check by hand that this host has the plan's GPU", Severity.WARNING)
_run("B412", "host-not-ready", "A build stopped before running anything because doctor's checks failed.",
     "Finding a missing tool before hours of quantization is cheaper than after.",
     _BUILD + "# B401 error: ... cannot import tensorrt_llm\n", _BUILD,
     "fix the checks listed above (see `trtdeploy doctor DIR`), or pass --skip-doctor to run anyway")
