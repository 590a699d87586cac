#!/bin/sh
# Draws the policy pictures of README.md and docs/policies.md with
# `leapsmear plot`. Run from anywhere: sh docs/img/policies.sh
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)/leapsmear
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/leapsmear
all=step,noon-to-noon,google-2016,cosine-2008,quadratic-17h,slew-500ppm
"$bin" plot --policy "$all" --leap 2016-12-31 --samples 600 -o docs/img/presets-2016.svg
"$bin" plot --policy "$all" --leap 2030-06-30 --sign -1 --samples 600 -o docs/img/presets-negative.svg
for p in noon-to-noon google-2016 cosine-2008 quadratic-17h slew-500ppm; do
	"$bin" plot --policy "$p" --leap 2016-12-31 --samples 600 -o "docs/img/$p.svg"
done
"$bin" plot --policy step,slew-500ppm --leap 2016-12-31 --from 2016-12-31T23:55:00Z --to 2017-01-01T00:40:00Z \
	--samples 600 -o docs/img/step-and-slew.svg
