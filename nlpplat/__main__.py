"""``python -m nlpplat``: the command line, run by a chosen interpreter.

``/path/to/venv/bin/python -m nlpplat install …`` installs into exactly that
environment, whatever ``nlpplat`` script comes first on ``PATH``.
"""

from nlpplat.cli import main

if __name__ == "__main__":
    main()
