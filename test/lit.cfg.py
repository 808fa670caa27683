# lit configuration of the axonn test suite.
import os
import sys

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "axonn"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.axonn_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%examples", os.path.join(config.axonn_src_root, "examples")))
# The build tree, CMake and MLIR's package: installing axonn and building
# against the installed package.
config.substitutions.append(("%axonn-build", config.axonn_obj_root))
config.substitutions.append(("%cmake", config.cmake_command))


def lit_script(substitution, script, python=sys.executable):
    """Makes `substitution` run test/lit/`script` with `python`."""
    path = os.path.join(config.test_source_root, "lit", script)
    config.substitutions.append((substitution, '"%s" "%s"' % (python, path)))

config.substitutions.append(("%mlir-dir", config.mlir_dir))
config.substitutions.append(("%cxx", config.cxx_compiler))
# The runtime's libraries (driver, backends), to link objects by hand.
config.substitutions.append(("%axonn-lib", os.path.join(config.axonn_obj_root, "lib")))
# `%expect-exit 1 cmd ...` runs cmd, passes its output through and succeeds
# only if cmd exited with exactly that status (`not` accepts any failure).
lit_script("%expect-exit", "expect_exit.py")
lit_script("%check-bad-inputs", "check_bad_inputs.py")

llvm_config.with_system_environment(["HOME", "TMPDIR"])
# One BLAS thread per MPI rank: tests oversubscribe a 2-core machine.
config.environment["OPENBLAS_NUM_THREADS"] = "1"

# Real MPI ranks on this machine (Open MPI refuses root without the flag).
import shutil
import subprocess
mpirun = shutil.which("mpirun")
if mpirun and os.path.exists(os.path.join(config.axonn_tools_dir, "axonn-calibrate")):
    config.available_features.add("mpi")
    flags = " --oversubscribe"
    if os.geteuid() == 0:
        flags += " --allow-run-as-root"
    config.substitutions.append(("%mpirun", mpirun + flags))
# Graphviz (Debian's graphviz) renders --axonn-print-graph's output.
if shutil.which("dot"):
    config.available_features.add("graphviz")
# The CUDA runtime (built wherever nvcc is), and a GPU to run it on.
if os.path.exists(os.path.join(config.axonn_obj_root, "lib", "libaxonn_rt_cuda_single.a")):
    config.available_features.add("cuda-runtime")
    smi = shutil.which("nvidia-smi")
    if smi and subprocess.run([smi, "-L"], capture_output=True).returncode == 0:
        config.available_features.add("gpu")
# The CPU runtime and axonnc: training binaries can be built and run.
if os.path.exists(os.path.join(config.axonn_tools_dir, "axonnc")):
    config.available_features.add("runtime")
lit_script("%checkpoint-resume", "checkpoint_resume.py")
import subprocess
# SentencePiece: axonn-data built with libsentencepiece, and spm_train
# (Debian's sentencepiece) to make a model.
data_tool = os.path.join(config.axonn_tools_dir, "axonn-data")
if shutil.which("spm_train") and os.path.exists(data_tool):
    help_text = subprocess.run([data_tool, "--help"], capture_output=True, text=True).stdout
    if "--sentencepiece MODEL " in help_text:
        config.available_features.add("sentencepiece")
# A Python with numpy (Debian's python3-numpy) for independent references.
import subprocess
for python in [sys.executable, "/usr/bin/python3"]:
    if subprocess.run([python, "-c", "import numpy"], capture_output=True).returncode == 0:
        config.available_features.add("numpy")
        lit_script("%hf-reference", "hf_reference.py", python)
        break
lit_script("%damage-checkpoint", "damage_checkpoint.py")
lit_script("%signal-after", "signal_after.py")
lit_script("%hf-export", "hf_export.py")
lit_script("%split-tokens", "split_tokens.py")
lit_script("%parallel-equals-serial", "parallel_equals_serial.py")
llvm_config.use_default_substitutions()

tool_dirs = [config.axonn_tools_dir, config.llvm_tools_dir]
tools = ["axonn-opt", "axonn-translate", "axonn-spec-replay", "axonn-calibrate",
         "axonn-rt-collectives-check", "axonnc", "axonn-data", "mlir-translate",
         "split-file", "not", "count"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
