"""``python -m fastdnn``: the command line (see ``fastdnn.cli``)."""

from fastdnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
