#!/bin/bash
# A batch script template for finetune.launcher.scriptTemplate: flywheel keeps these #SBATCH lines (after its
# own: name, comment, output, and the config's options) and runs the body inside its job script, which records
# the exit status in status.json. Where the body says command in braces, the trainer command runs; the other
# placeholders of finetune.command (round, runId, outputDir, ...) work here too.
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
module load cuda/12.4 2>/dev/null || true
source "${VENV:-/shared/venvs/train}/bin/activate"
export NCCL_ASYNC_ERROR_HANDLING=1
echo "round {round} of {runId} on $(hostname), GPUs: ${CUDA_VISIBLE_DEVICES:-none}"
{command}
