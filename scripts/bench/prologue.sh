# The start every benchmark shares (sourced by scripts/bench/*, not run): the repository root
# as the working directory, --help from the script's own header, the binaries, the codebooks, a
# cluster on loopback, a Python environment, and steps to run at exit. Each function says what
# it sets.
# shellcheck shell=bash

bench_script=${BASH_SOURCE[1]}
bench_name=$(basename "$bench_script")
cd "$(dirname "$bench_script")/../.."

# Steps run when the script exits, the last registered first (as `defer` would).
bench_exit_steps=()
bench_at_exit() { bench_exit_steps=("$1" "${bench_exit_steps[@]}"); }
bench_run_exit_steps() { local step; for step in "${bench_exit_steps[@]}"; do eval "$step" || true; done; }
trap bench_run_exit_steps EXIT

# bench_help: prints the script's header comment (its usage) and exits.
bench_help() { awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$bench_script"; exit 0; }

# bench_unknown OPTION: refuses an option the script does not take.
bench_unknown() { echo "$bench_name: unknown option $1 (--help lists them)" >&2; exit 2; }

# bench_binaries: builds the release binaries unless SIGHTLINE_BIN names others (an A/B run
# alternates two builds); sets bin to their folder, as an absolute path.
bench_binaries() {
  [ -n "${SIGHTLINE_BIN:-}" ] || swift build -c release >&2
  bin=$(cd "${SIGHTLINE_BIN:-.build/release}" && pwd)
}

# bench_codebooks FILE DATASET [NLIST] [M]: trains codebooks (nlist 1024, m 16 unless given)
# into FILE unless it exists; sets codebooks.
bench_codebooks() {
  codebooks=$1
  mkdir -p "$(dirname "$codebooks")"
  if [ ! -f "$codebooks" ]; then
    echo "== training codebooks: $2, nlist ${3:-1024}, m ${4:-16}" >&2
    "$bin/sightline" train --dataset "$2" --nlist "${3:-1024}" --m "${4:-16}" --out "$codebooks" >&2
  fi
}

# bench_cluster RUN_DIR [scripts/cluster-up options…]: a fresh cluster on loopback in RUN_DIR
# (one left there is stopped and removed), stopped when the script exits; sets run_dir and
# target (the options that point sightline's commands at its coordinator).
bench_cluster() {
  run_dir=$1; shift
  scripts/cluster-down --run-dir "$run_dir" >/dev/null 2>&1 || true
  rm -rf "$run_dir"
  # The folder is fixed now: a script may start several clusters, and each is stopped once.
  bench_at_exit "[ ! -f '$run_dir/coordinator.pid' ] || scripts/cluster-down --run-dir '$run_dir' >&2"
  SIGHTLINE_BIN=$bin scripts/cluster-up --run-dir "$run_dir" "$@" >&2
  target=(--coordinator tcp://127.0.0.1:7710 --token-file "$run_dir/token")
}

# bench_venv MODULES PACKAGES…: the Python environment .venv-bench, with PACKAGES installed from
# PyPI unless it already imports MODULES (comma-separated); sets py to its interpreter.
bench_venv() {
  local modules=$1; shift
  py=.venv-bench/bin/python
  if ! "$py" -c "import $modules" 2>/dev/null; then
    echo "== installing $* into .venv-bench" >&2
    [ -x "$py" ] || python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q "$@"
  fi
}
