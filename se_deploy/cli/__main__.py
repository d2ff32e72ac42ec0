"""``python -m se_deploy.cli ...`` is the same as ``se-deploy ...`` (the console script, Ctrl-C included)."""

from se_deploy.entry import main

main()
