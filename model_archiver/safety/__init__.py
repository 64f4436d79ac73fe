"""Rules that keep untrusted archives, model folders and outputs from doing harm.

``entry_names`` is the one rule for names inside an archive (shared by build,
validate, inspect, verify, run and extraction), ``limits`` the one set of
bounds on reading untrusted archives, ``outputs`` the rule that an output
never replaces the model it was built from, ``signals`` how the CLI turns
SIGINT/SIGTERM/SIGHUP into a clean exit.
"""
