"""Thin shim: `python cli.py ...` is the same as `se-deploy ...`."""

from se_deploy.cli import main

if __name__ == "__main__":
    main()
