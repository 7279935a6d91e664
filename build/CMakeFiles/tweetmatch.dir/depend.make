# Empty dependencies file for tweetmatch.
# This may be replaced when dependencies are built.
