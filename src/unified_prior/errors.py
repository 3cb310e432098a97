"""Errors that the command line turns into one line on stderr and exit code 2."""


class InputError(Exception):
    """Bad input (config, path, file): the message names the input and the fix."""
