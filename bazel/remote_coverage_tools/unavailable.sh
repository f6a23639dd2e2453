#!/bin/sh
echo "bazel coverage is unavailable: @remote_coverage_tools is a local stand-in (bazel/remote_coverage_tools)" >&2
exit 1
