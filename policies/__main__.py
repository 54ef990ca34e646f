"""Entry point of the policy pack: the Pulumi CLI runs this file with `policies/` as the working
directory and the pack's own virtualenv (`policies/requirements.txt`).

The policies are thin over the project's rule library (`components/rules`), which lives one level
up. Run as a script, this file re-runs itself as the module `policies` from the repository root
(same process, same interpreter options and arguments), so every import resolves the ordinary way.
The pack is therefore run from a checkout of this repository (as CI does); it is not published to
Pulumi Cloud on its own.
"""

import os
import sys
from pathlib import Path

if not __package__:  # run as a script by the Pulumi CLI
    options = sys.orig_argv[1 : len(sys.orig_argv) - len(sys.argv)]
    os.chdir(Path(__file__).resolve().parent.parent)
    os.execv(sys.executable, [sys.executable, *options, "-m", "policies", *sys.argv[1:]])

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.pack import PACK_NAME, policies

# Starts the analyzer's gRPC server and serves until the CLI stops it.
PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
