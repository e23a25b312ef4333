#!/usr/bin/env bash
# System packages the project needs: X/GL client libraries that Blender's bpy
# module loads on headless Linux. (The Slurm end-to-end tests install Slurm and
# munge themselves through scripts/slurm_localhost.sh.) Installs only what is
# missing; needs root (or sudo) and apt-get.
set -euo pipefail
packages=(libxrender1 libxi6 libxkbcommon0 libsm6 libgl1 libxxf86vm1 libxfixes3)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: apt-get not found; install these yourself: ${missing[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
