"""Thin shim: `python cli.py ...` is the same as `se-deploy ...` (Ctrl-C during start-up included)."""

from se_deploy.entry import main

if __name__ == "__main__":
    main()
