#!/bin/bash
# Runs on every HyperPod node when it is created (LifeCycleConfig.OnCreate): Slurm is
# configured by HyperPod itself (Orchestrator.Slurm, Managed) and FSx for Lustre is mounted at /fsx
# (InstanceStorageConfigs). This script adds what a training team shares on the cluster.
set -euo pipefail
exec > >(tee -a /var/log/mlblueprints-lifecycle.log) 2>&1
echo "mlblueprints lifecycle: $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Shared directories on the cluster file system, writable by every user, sticky like /tmp.
if mountpoint -q /fsx; then
  install -d -m 1777 /fsx/shared /fsx/checkpoints /fsx/datasets
fi

# One place for the jobs' environment: the cluster file system's paths.
cat > /etc/profile.d/mlblueprints.sh <<'PROFILE'
export SHARED_DIR=/fsx/shared
export CHECKPOINT_DIR=/fsx/checkpoints
export DATASET_DIR=/fsx/datasets
PROFILE
chmod 0644 /etc/profile.d/mlblueprints.sh
echo "mlblueprints lifecycle: done"
