# Empty dependencies file for tmcore.
# This may be replaced when dependencies are built.
