#!/bin/bash
# HyperPod on_create lifecycle script for EKS-orchestrated clusters, uploaded by the stack.
#
# What AWS's base-config does (awslabs/awsome-distributed-training@0edaf152,
# 1.architectures/7.sagemaker-hyperpod-eks/LifecycleScripts/base-config/on_create_main.sh, MIT-0):
# - HyperPod mounts the instance group's extra EBS volume (InstanceStorageConfigs, 500 GB by default)
#   at /opt/sagemaker; containerd and the kubelet otherwise stay on the small root volume, where
#   10-20 GB inference images fill the disk. Containerd's data root and /var/lib/kubelet move there.
# - The Lustre kernel modules are loaded and LNet brought up on every node, whatever the disk, as
#   upstream's load_lustre_modules ("always execute"): FSx for Lustre volumes (modelSource type fsx,
#   through the FSx CSI driver) mount through them. On every node, not only where an endpoint reads
#   from FSx today: this script runs once, when a node is created, so a node without them could not
#   serve an FSx endpoint added later. A module that does not load is logged, as upstream does.
# Upstream's optional EFA FSx-client download is left out: it fetches code from the internet at boot.
set -euo pipefail

DISK="${LLM_SERVING_NODE_DISK:-/opt/sagemaker}"
LOG_FILE="${LLM_SERVING_PROVISION_LOG:-/var/log/provision/provisioning.log}"
mkdir -p "$(dirname "$LOG_FILE")"
exec > >(tee -a "$LOG_FILE") 2>&1

log() {
  echo "[on_create] $*"
}

# HyperPod mounts the volume shortly after boot: wait up to 60 s.
disk_mounted() {
  for _ in $(seq 1 12); do
    if mountpoint -q "$DISK"; then
      return 0
    fi
    log "waiting for $DISK to be mounted"
    sleep 5
  done
  mountpoint -q "$DISK"
}

move_containerd() {
  # shellcheck source=/dev/null
  source /etc/os-release
  case "${VERSION_ID:-}" in
    2)
      config="/etc/eks/containerd/containerd-config.toml"
      if [[ -f "$config" ]]; then
        log "Amazon Linux 2: setting root in $config"
        sed -i -e "/^[# ]*root\s*=/c\root = \"$DISK/containerd/data-root\"" "$config"
      else
        log "Amazon Linux 2 without $config: containerd left as it is"
      fi
      ;;
    2023)
      log "Amazon Linux 2023: containerd config on $DISK and a systemd override"
      rm -rf "$DISK/containerd/data-root"  # a data root from an older OS is incompatible
      mkdir -p "$DISK/containerd"
      cat > "$DISK/containerd/config.toml" <<EOF
version = 2
root = "$DISK/containerd/data-root"
state = "/run/containerd"

[grpc]
address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri".containerd]
default_runtime_name = "nvidia"
discard_unpacked_layers = true

[plugins."io.containerd.grpc.v1.cri"]
sandbox_image = "localhost/kubernetes/pause"
enable_cdi = true

[plugins."io.containerd.grpc.v1.cri".registry]
config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
runtime_type = "io.containerd.runc.v2"
base_runtime_spec = "/etc/containerd/base-runtime-spec.json"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
BinaryName = "/usr/bin/nvidia-container-runtime"
SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/net.d"
EOF
      mkdir -p /etc/systemd/system/containerd.service.d
      cat > /etc/systemd/system/containerd.service.d/override.conf <<EOF
[Service]
Environment="CONTAINERD_CONFIG=$DISK/containerd/config.toml"
ExecStart=
ExecStart=/usr/bin/containerd --config \$CONTAINERD_CONFIG
EOF
      systemctl daemon-reload
      cp -a /var/lib/containerd "$DISK/containerd/data-root"
      ;;
    *)
      log "unsupported OS version ${VERSION_ID:-unknown}: containerd left as it is"
      ;;
  esac
}

move_kubelet() {
  log "moving /var/lib/kubelet to $DISK/kubelet"
  rm -rf "$DISK/kubelet"
  mkdir -p "$DISK/kubelet"
  if [[ -d /var/lib/kubelet ]]; then
    shopt -s dotglob nullglob  # hidden files too, and no error on an empty directory
    for entry in /var/lib/kubelet/*; do
      mv "$entry" "$DISK/kubelet/"
    done
    rmdir /var/lib/kubelet
  fi
  ln -s "$DISK/kubelet" /var/lib/kubelet
}

load_lustre_modules() {
  log "loading the Lustre kernel modules"
  if modprobe lnet; then
    log "lnet module loaded"
  else
    log "lnet module not loaded (already loaded, or no Lustre client on this image)"
  fi
  if modprobe lustre; then
    log "lustre module loaded"
  else
    log "lustre module not loaded (already loaded, or no Lustre client on this image)"
  fi
  if command -v lctl >/dev/null 2>&1; then
    if lctl network up; then
      log "LNet network up"
    else
      log "LNet network already up, or not brought up"
    fi
  fi
}

log "start; disk for containerd and kubelet: $DISK"
if disk_mounted; then
  move_containerd
  move_kubelet
else
  log "$DISK is not mounted; containerd and kubelet stay on the root volume"
fi
load_lustre_modules
log "done"
