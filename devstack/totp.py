"""Print the current TOTP code for a secret: `python -m devstack.totp BASE32SECRET` (dev convenience only)."""

import sys

import pyotp

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m devstack.totp BASE32SECRET", file=sys.stderr)
        raise SystemExit(2)
    print(pyotp.TOTP(sys.argv[1]).now())
