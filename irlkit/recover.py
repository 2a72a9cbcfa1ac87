"""`python -m irlkit.recover`: the audit command (its code: `irlkit.audit.main`; in Python, `irlkit.recover(...)`)."""
from irlkit.audit import main

if __name__ == "__main__":
    raise SystemExit(main())
