"""Runs every ```sh block of a markdown guide, in order, in one shell.

    run_guide.py GUIDE REPO WORKDIR

WORKDIR gets links to REPO's examples/, build/ and scripts/, so that the
guide's commands (written for the repository root) leave their outputs in
WORKDIR. Each command is echoed (bash -x, "+ " prefix) before its output. Exit
status: the first failing command's (bash -e), or 0.
"""
import os
import re
import subprocess
import sys

guide, repo, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
os.makedirs(work, exist_ok=True)
for name in ("examples", "build", "scripts"):
    link = os.path.join(work, name)
    if not os.path.exists(link):
        os.symlink(os.path.join(repo, name), link)
blocks = re.findall(r"^```sh\n(.*?)^```", open(guide).read(), re.S | re.M)
script = ["set -euo pipefail", "set -x"]
for block in blocks:
    script.append(block)
env = dict(os.environ)
# Open MPI as root, more ranks than cores: what the test machines need.
env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_rmaps_base_oversubscribe": "1", "OPENBLAS_NUM_THREADS": "1"})
result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env,
                        stderr=subprocess.STDOUT)
print("guide: %d blocks, exit %d" % (len(blocks), result.returncode))
sys.exit(result.returncode)
