#!/usr/bin/env sh
# Installs what intfa needs to build and test on Debian (12 or later):
# a C++17 compiler, CMake >= 3.24, Ninja and GoogleTest. The CUDA toolkit is
# optional and not installed here: with nvcc on PATH the CUDA back-ends are
# built too. Runs apt-get through sudo when not root.
set -eu
packages="cmake ninja-build g++ libgtest-dev python3 python3-venv python3-dev"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
