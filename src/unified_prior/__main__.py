"""``python -m unified_prior``: the same CLI as the ``uprior`` console script."""

from unified_prior.cli import main

if __name__ == "__main__":
    main()
