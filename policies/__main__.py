"""Entry point of the policy pack: the Pulumi CLI runs this file with `policies/` as the working
directory and the pack's own virtualenv (`policies/requirements.txt`).

The policies are thin over the project's rule library (`components/rules`), which lives one level
up, so the repository root goes on `sys.path` first. The pack is therefore run from a checkout of
this repository (as CI does); it is not published to Pulumi Cloud on its own.
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import PACK_NAME, policies  # noqa: E402

# Starts the analyzer's gRPC server and serves until the CLI stops it.
PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
