#!/usr/bin/env bash
# Soak test of worker-orcd, for a GPU host (not part of CI): one worker runs
# for --duration-min under mixed jobs (greedy and sampled, stop sequences,
# cancels, client disconnects, inference timeouts, requests that fill or
# overflow the context, /execute while busy, injected kernel-launch and
# allocation faults where the build has the hook) while RSS, tracked VRAM
# (/health), cudaMemGetInfo (/metrics) and nvidia-smi are sampled every 10 s.
# Writes samples.csv, jobs.csv, summary.txt/.json and soak.png (when python3
# has matplotlib) into --out; exits 0 when every criterion passes, 1 when one
# fails. The criteria and the job mix: scripts/soak/soak.py.
#
# usage: scripts/soak.sh [options] [-- soak.py options]
#   --device cuda|cpu     backend (default cuda)
#   --gpu-device N        CUDA device (default 0)
#   --model PATH          default: cuda: a TinyLlama-1.1B-shape F16 model made
#                         by worker-orcd-synth (cached as gpu-check caches it);
#                         cpu: testdata/models/stories260K.gguf
#   --duration-min M      default 20 (fractions allowed)
#   --warmup-min M        default min(2, duration/4)
#   --faults SPEC         ORCD_FAULT_INJECT for the worker: auto (default;
#                         cuda: kernel_launch@every400000,job_alloc@every25,
#                         cpu: tokenizer@every97), none, or a spec
#   --out DIR             default soak-out/<device>-<date>
#   --bin DIR             the worker's binaries (default build/bin)
#   -- --ctx-size N       the worker's context; by default the model's, cut to
#                         4096 when larger (Qwen's 32768 would need a fill
#                         prompt longer than /execute takes)
# e.g. on the GPU host:  scripts/soak.sh --duration-min 20
#      here (CPU):       scripts/soak.sh --device cpu --duration-min 2
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command_line="scripts/soak.sh $*"
device=cuda gpu=0 model="" duration=20 out="" bin="$root/build/bin" faults=auto
extra=()
die() { echo "soak: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --device) device=$2; shift ;;
    --gpu-device) gpu=$2; device=cuda; shift ;;
    --model) model=$2; shift ;;
    --duration-min) duration=$2; shift ;;
    --warmup-min) extra+=(--warmup-min "$2"); shift ;;
    --faults) faults=$2; shift ;;
    --out) out=$2; shift ;;
    --bin) bin=$2; shift ;;
    --) shift; extra+=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ "$device" == cpu || "$device" == cuda ]] || die "--device must be cpu or cuda"
[[ -x "$bin/worker-orcd" ]] || die "$bin/worker-orcd not found: build first (scripts/setup.sh) or pass --bin"
command -v python3 >/dev/null || die "python3 is needed"
data="${ORCD_DATA_DIR:-$root/testdata}"
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

if [[ -z "$model" ]]; then
  if [[ "$device" == cpu ]]; then
    model="$data/models/stories260K.gguf"
  else
    # The same file scripts/gpu-check.sh generates, so one run serves both.
    model="${TMPDIR:-/tmp}/orcd-gpu-check/tinyllama-1.1b-f16.gguf"
    if [[ ! -s "$model" ]]; then
      [[ -x "$bin/worker-orcd-synth" ]] || die "$bin/worker-orcd-synth not found to make the model; pass --model"
      mkdir -p "$(dirname "$model")"
      echo "soak: synthesizing $model (TinyLlama-1.1B shape, F16, random weights)"
      "$bin/worker-orcd-synth" -o "$model" --shape tinyllama-1.1b --type f16 --seed 1 \
        --vocab "$data/tokenizer/ggml-vocab-llama-spm.gguf" || { rm -f "$model"; die "synthesis failed"; }
    fi
  fi
fi
[[ -f "$model" ]] || die "no model at $model"
out="${out:-$root/soak-out/$device-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
echo "soak: results in $out"
SOAK_COMMAND="$command_line" exec python3 "$root/scripts/soak/soak.py" --bin "$bin" --model "$model" \
  --device "$device" --gpu-device "$gpu" --duration-min "$duration" --faults "$faults" --out "$out" "${extra[@]}"
