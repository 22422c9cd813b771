"""``python -m hwsim``: the same CLI as the ``hwsim`` command."""

from .cli import main

if __name__ == "__main__":
    main()
