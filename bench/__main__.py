"""`python -m bench`: every benchmark in full size, then the README table."""

from bench.run_all import main

if __name__ == "__main__":
    main()
