#!/bin/sh
# Stands in for the user's web browser when a CLI "opens" a URL (mcp-remote does it through
# the `open` package, whose bundled xdg-open runs $BROWSER when there is no desktop session).
# It appends the URL to $SCRIPTED_BROWSER_INBOX; the test reads that file and plays the user
# (e2e/browser.mjs: consent page, development sign-in, redirect to the CLI's callback).
set -eu
: "${SCRIPTED_BROWSER_INBOX:?SCRIPTED_BROWSER_INBOX must name the file the test reads}"
printf '%s\n' "$1" >> "$SCRIPTED_BROWSER_INBOX"
