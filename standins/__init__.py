"""Local stand-ins of the outside systems the app talks to (e-conomic, Azure Key Vault, an SMTP server).

They serve the tests, the local sandbox (`python -m devhost --sandbox`) and the benchmarks; none of it is
deployed (.funcignore)."""
