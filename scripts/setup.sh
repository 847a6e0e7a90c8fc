#!/usr/bin/env bash
# Installs every Debian 12 package fmsim needs. Non-interactive and idempotent: when everything is
# already installed it changes nothing and does not touch the network. Works as root or via sudo.
set -euo pipefail

packages=(
  # toolchain and build
  g++ cmake ninja-build ccache pkg-config
  # core library dependencies
  nlohmann-json3-dev libboost-graph-dev libeigen3-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # GUI (Qt 6 Widgets + Charts) and a virtual display for its tests
  qt6-base-dev libqt6charts6-dev libgl-dev xvfb xauth
  # distributed sweeps and multi-node calibration
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
