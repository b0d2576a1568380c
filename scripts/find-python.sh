#!/usr/bin/env bash
# Prints the path of a python3 that can import boto3 (the PATH one first, then Debian's).
for py in "$(command -v python3 || true)" /usr/bin/python3; do
    [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import boto3' 2>/dev/null && { echo "$py"; exit 0; }
done
exit 1
